// A client-node Watch that hands the ListWatch its events a few milliseconds' worth at a time.
// client-node's own reads the stream through readline, and whatever has arrived is parsed and
// handled in one go; after a burst (a rollout's thousands of EndpointSlice updates, up to 15 KB
// each) libuv hands a readable socket over in up to 32 reads of 64 KB, so one turn of the event
// loop parsed and handled some 60 slices while every webhook review and oracle answer waited
// (measured: npm run bench -- webhook). This one parses and delivers events for at most `sliceMs`,
// then pauses the response and lets the event loop turn before it goes on. Same contract as
// client-node's Watch: `done` once, after the last event, with the error if any; an inactivity
// timeout ends the watch with a TimeoutError, on which ListWatch reconnects at once.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { StringDecoder } from "node:string_decoder";
import { Watch, type KubeConfig } from "@kubernetes/client-node";

/** Time one turn of the event loop may spend on watch events. */
export const watchSliceMs = 2;
/** As client-node's Watch: a watch silent this long is ended, and ListWatch reconnects it at once. */
const inactivityMs = 30_000;

type Callback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;

export class PacedWatch extends Watch {
  readonly #kc: KubeConfig;
  readonly #sliceMs: number;

  constructor(kc: KubeConfig, sliceMs = watchSliceMs) {
    super(kc);
    this.#kc = kc;
    this.#sliceMs = sliceMs;
  }

  override async watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: Callback, done: (err: unknown) => void): Promise<AbortController> {
    const cluster = this.#kc.getCurrentCluster();
    if (cluster === null) throw new Error("No currently active cluster");
    const url = new URL(cluster.server + path);
    url.searchParams.set("watch", "true");
    for (const [key, value] of Object.entries(queryParams)) if (value !== undefined) url.searchParams.set(key, String(value));
    const options: RequestOptions = { method: "GET", headers: {} };
    // Credentials, CA, client certificates and the kubeconfig's proxy, as client-node's own requests.
    await this.#kc.applyToHTTPSOptions(options);
    const controller = new AbortController();
    let ended = false;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      controller.abort();
      done(err);
    };
    // The ListWatch stops a watch by aborting it: that ends it too, with nothing delivered after.
    controller.signal.addEventListener("abort", () => { end(controller.signal.reason); }, { once: true });
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { ...options, signal: controller.signal });
    request.setTimeout(inactivityMs, () => {
      end(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    });
    request.on("error", (err) => { end(err); });
    request.on("response", (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        end(Object.assign(new Error(response.statusMessage ?? `HTTP ${String(response.statusCode)}`), { statusCode: response.statusCode }));
        return;
      }
      this.#deliver(response, callback, end, () => ended);
    });
    request.end();
    return controller;
  }

  /** Parses and hands over lines, at most #sliceMs per turn of the event loop, none once ended. */
  #deliver(response: IncomingMessage, callback: Callback, end: (err: unknown) => void, isEnded: () => boolean): void {
    const decoder = new StringDecoder("utf8");
    let lines: string[] = [];
    let next = 0;
    let partial = "";
    let finished = false;
    let scheduled = false;

    const drain = (): void => {
      scheduled = false;
      const started = performance.now();
      while (next < lines.length) {
        if (isEnded()) return;
        const line = lines[next] ?? "";
        next++;
        try {
          const event = JSON.parse(line) as { type?: unknown; object?: unknown };
          callback(String(event.type), event.object, event);
        } catch {
          // As client-node's Watch: a line that is not JSON is skipped.
        }
        if (next < lines.length && performance.now() - started >= this.#sliceMs) {
          // The rest next turn; meanwhile the socket fills and TCP slows the sender down.
          response.pause();
          scheduled = true;
          setImmediate(drain);
          return;
        }
      }
      lines = [];
      next = 0;
      if (finished) end(null);
      else response.resume();
    };
    const finish = (): void => {
      if (finished) return;
      const rest = partial + decoder.end();
      if (rest.trim() !== "") lines.push(rest);
      finished = true;
      if (!scheduled) drain();
    };

    response.on("data", (chunk: Buffer) => {
      const text = partial + decoder.write(chunk);
      const parts = text.split("\n");
      partial = parts.pop() ?? "";
      for (const part of parts) if (part.trim() !== "") lines.push(part);
      if (!scheduled) drain();
    });
    response.on("end", finish);
    // A connection that ends without a clean end (reset) ends the watch too, after what arrived.
    response.on("close", finish);
    response.on("error", (err) => { end(err); });
  }
}
