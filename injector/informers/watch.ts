// One watch request, streamed: newline-delimited {type, object} events as they arrive, on client.ts's
// transport. client-node's own Watch cannot send an Accept header, and a metadata-only watch
// (as=PartialObjectMetadata) needs one.
//
// Events are handed over a millisecond's worth per turn of the event loop. Whatever has arrived
// is otherwise parsed and handled in one go: after a burst (a rollout's thousands of EndpointSlice
// updates, up to 15 KB each) libuv hands a readable socket over in up to 32 reads of 64 KB, and one
// turn handled some 60 slices while every webhook review and oracle answer waited (measured: npm run
// bench -- webhook). Past about 1 MiB of events received and not handled, the connection is not read
// (lines.ts): the rest stays in the socket, and TCP slows the sender down.
//
// Slices alone still let a burst take the whole event loop when events keep arriving: with 1,000
// reviews/s and 10,000 updates delivered at once, reviews waited 7-54 ms at the median while the burst
// arrived. While other work is waiting, a watch now takes at most a share of the time (0.9-1.5 ms
// median then), and the whole of it whenever nothing else waits. Turns of 1 ms instead of 2 ms took
// the reviews' p99 during that burst from 4.0-6.5 ms to 3.4-4.0 ms, and the burst was read sooner
// (2.8-3.1 s instead of 4.0 s): shorter turns leave less work waiting behind them, so fewer turns
// find others waiting and rest.
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import { readBody, statusError, type Transport } from "./client.ts";
import { receiveLines } from "./lines.ts";

/** Time one turn of the event loop may spend on one watch's events. */
export const watchSliceMs = 1;
/**
 * The share of time one watch's events may take while the rest of the process has work waiting (a
 * turn of the event loop that spent more than watchBusyTurnMs on other callbacks): webhook reviews
 * and oracle answers first, the cache catches up in what they leave. When nothing else waits, events
 * are handled at full speed.
 */
export const watchBusyShare = 0.25;
const watchBusyTurnMs = 0.5;

export interface WatchRequest {
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly accept: string;
  /** The connection is dropped after this long without a byte (bookmarks keep a quiet watch alive). */
  readonly idleTimeoutMs: number;
  /** Time per turn of the event loop spent on events (default watchSliceMs; tests use 0). */
  readonly sliceMs?: number;
  /** Share of the time spent on events while other work waits (default watchBusyShare). */
  readonly busyShare?: number;
  /** Bytes of received events held before reading stops (default lines.ts's watchBufferBytes). */
  readonly bufferBytes?: number;
}

export interface WatchHandle {
  /** Resolves once the response has started (status 200); rejects with the error status otherwise. */
  readonly established: Promise<void>;
  /** Resolves when the stream ends: undefined for a clean end, an idle timeout or abort(), else the error. */
  readonly ended: Promise<unknown>;
  abort(): void;
}

export type WatchEventHandler = (type: string, object: unknown) => void;

export function startWatch(transport: Transport, request: WatchRequest, onEvent: WatchEventHandler): WatchHandle {
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
      touch();
      const res = await transport.open(request.path, { ...request.params, watch: "true" }, request.accept, controller.signal);
      if (res.statusCode !== 200) throw statusError(`watch ${request.path}`, res.statusCode ?? 0, await readBody(res).catch(() => ""));
      establish();
      touch();
      res.on("data", touch);
      const lines = receiveLines(res, request.bufferBytes);
      const sliceMs = request.sliceMs ?? watchSliceMs;
      const busyShare = request.busyShare ?? watchBusyShare;
      let sliceStarted = performance.now();
      let sliceEnded = sliceStarted;
      let spent = 0;
      const endSlice = (): void => {
        sliceEnded = performance.now();
        spent = sliceEnded - sliceStarted;
      };
      // A slice starts on a turn of its own, after whatever else was waiting; when that took a while,
      // other work is waiting, and the watch leaves it the rest of its share first.
      const startSlice = async (): Promise<void> => {
        const asked = performance.now();
        await nextTurn();
        const others = performance.now() - asked;
        if (others > watchBusyTurnMs) {
          const rest = spent * (1 / busyShare - 1) - (performance.now() - sliceEnded);
          if (rest >= 1) await sleep(rest);
        }
        sliceStarted = performance.now();
      };
      for (;;) {
        // The slice is checked before a line is taken: until then it stays received bytes, not a string.
        if (performance.now() - sliceStarted >= sliceMs) {
          endSlice();
          await startSlice();
          if (controller.signal.aborted) break;
        }
        const line = lines.next();
        if (line === undefined) {
          if (lines.ended()) {
            if (lines.failure() !== undefined) throw lines.failure();
            break;
          }
          endSlice();
          await lines.more();
          await startSlice();
          if (controller.signal.aborted) break;
          continue;
        }
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
