// One watch request, streamed: newline-delimited {type, object} events as they arrive, through
// client-node's transport (kubeconfig auth, TLS; client.ts's shared pool). client-node's own Watch
// cannot send an Accept header, and a metadata-only watch (as=PartialObjectMetadata) needs one.
import { IsomorphicFetchHttpLibrary } from "@kubernetes/client-node";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { ApiStatusError, type Auth } from "./client.ts";

export interface WatchRequest {
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly accept: string;
  /** The connection is dropped after this long without a byte (bookmarks keep a quiet watch alive). */
  readonly idleTimeoutMs: number;
}

export interface WatchHandle {
  /** Resolves once the response has started (status 200); rejects with the error status otherwise. */
  readonly established: Promise<void>;
  /** Resolves when the stream ends: undefined for a clean end or an idle timeout, else the error. */
  readonly ended: Promise<unknown>;
  abort(): void;
}

export type WatchEventHandler = (type: string, object: unknown) => void;

export function startWatch(auth: Auth, request: WatchRequest, onEvent: WatchEventHandler): WatchHandle {
  const controller = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const touch = (): void => {
    if (idle !== undefined) clearTimeout(idle);
    idle = setTimeout(() => {
      controller.abort();
    }, request.idleTimeoutMs);
    idle.unref();
  };
  let establish: () => void = () => undefined;
  let refuse: (err: unknown) => void = () => undefined;
  const established = new Promise<void>((resolve, reject) => {
    establish = resolve;
    refuse = reject;
  });
  // Only ever awaited through `ended`; an unobserved rejection here is not an error.
  established.catch(() => undefined);

  const ended = (async (): Promise<unknown> => {
    try {
      const ctx = await auth.request(request.path, { ...request.params, watch: "true" });
      ctx.setHeaderParam("Accept", request.accept);
      ctx.setSignal(controller.signal);
      touch();
      const response = await new IsomorphicFetchHttpLibrary().send(ctx).toPromise();
      if (response.httpStatusCode !== 200) {
        const text = await response.body.text().catch(() => "");
        let reason: string | undefined;
        let message = "";
        try {
          const status = JSON.parse(text) as { reason?: unknown; message?: unknown };
          reason = typeof status.reason === "string" ? status.reason : undefined;
          message = typeof status.message === "string" ? ` ${status.message}` : "";
        } catch {
          // not a Status body
        }
        throw new ApiStatusError(`watch ${request.path}: ${response.httpStatusCode}${message}`, response.httpStatusCode, reason);
      }
      const stream = response.body.stream();
      if (stream === null) throw new Error(`watch ${request.path}: no body`);
      establish();
      touch();
      const body = Readable.fromWeb(stream as Parameters<typeof Readable.fromWeb>[0]);
      body.on("data", touch);
      const lines = createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        if (line === "") continue;
        let event: { type?: unknown; object?: unknown };
        try {
          event = JSON.parse(line) as { type?: unknown; object?: unknown };
        } catch {
          continue;
        }
        if (typeof event.type === "string") onEvent(event.type, event.object);
      }
      return undefined;
    } catch (err) {
      refuse(err);
      // Aborted: by the idle timeout (a dead connection; resuming is right) or by abort() (stopping).
      return controller.signal.aborted ? undefined : err;
    } finally {
      if (idle !== undefined) clearTimeout(idle);
    }
  })();
  return {
    established,
    ended,
    abort: () => {
      controller.abort();
    },
  };
}
