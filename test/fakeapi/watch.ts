// Watch streams as the real server sends them: newline-delimited {type, object} JSON over a chunked
// 200 response; initial ADDED events then a BOOKMARK marked `k8s.io/initial-events-end` when no
// resourceVersion is given (as recorded from v1.36.2); resumption from a resourceVersion out of the
// bounded history; an ERROR event carrying a 410 Expired Status, then the end of the stream, for a
// version that is too old.
import type { ServerResponse } from "node:http";
import type { Faults } from "./faults.ts";
import type { Obj } from "./objects.ts";
import { namespaceOf } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import { apiVersionOf } from "./resources.ts";
import type { Matcher } from "./selectors.ts";
import type { EventType, Store, StoreEvent } from "./store.ts";
import { badRequest, tooLargeResourceVersion, tooOldResourceVersion } from "./status.ts";

export interface WatchRequest {
  readonly res: ResourceDef;
  readonly namespace: string | undefined;
  readonly matches: Matcher;
  readonly resourceVersion: string | undefined;
  readonly allowBookmarks: boolean;
  readonly sendInitialEvents: boolean | undefined;
  readonly timeoutSeconds: number | undefined;
  /** Sends each event's object as this (a metadata watch's PartialObjectMetadata). */
  readonly project?: (o: Obj) => Obj;
}

export interface WatchDeps {
  readonly store: Store;
  readonly faults: Faults;
  readonly bookmarkIntervalMs: number;
}

const lineCache = new WeakMap<StoreEvent, string>();

function line(type: string, object: Obj): string {
  return `${JSON.stringify({ type, object })}\n`;
}

function bookmark(r: ResourceDef, rv: number, initialEnd: boolean): string {
  const metadata: Obj = { resourceVersion: String(rv) };
  if (initialEnd) metadata["annotations"] = { "k8s.io/initial-events-end": "true" };
  return line("BOOKMARK", { kind: r.kind, apiVersion: apiVersionOf(r), metadata, ...r.bookmarkBody });
}

/** Validates the parameters before any byte is written, so that a bad request gets a real 4xx. */
export function checkWatch(w: WatchRequest): void {
  if (w.sendInitialEvents === true && !w.allowBookmarks) {
    throw badRequest("allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true");
  }
  const rv = w.resourceVersion;
  if (rv !== undefined && rv !== "" && !/^\d+$/.test(rv)) throw badRequest(`resourceVersion: Invalid value: "${rv}": must be a valid integer`);
}

export function serveWatch(deps: WatchDeps, w: WatchRequest, res: ServerResponse): void {
  const { store, faults } = deps;
  const requested = w.resourceVersion === undefined || w.resourceVersion === "" ? 0 : Number(w.resourceVersion);
  // The real watch cache waits up to 3 s for a resourceVersion it has not seen, then gives up with
  // a 504; here the store is the source of truth, so a version beyond it never arrives.
  if (requested > store.currentRv()) {
    const body = JSON.stringify(tooLargeResourceVersion(requested, store.currentRv()));
    res.writeHead(504, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }).end(body);
    return;
  }
  const gone = faults.takeGone();
  if (gone === "status") {
    const body = JSON.stringify(tooOldResourceVersion(requested, store.currentRv()));
    res.writeHead(410, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }).end(body);
    return;
  }
  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
  res.flushHeaders();
  if (gone === "event") {
    res.end(line("ERROR", tooOldResourceVersion(requested, store.currentRv())));
    return;
  }
  const inScope = (o: Obj): boolean => (w.namespace === undefined || namespaceOf(o) === w.namespace) && w.matches(o);
  // Events (and bookmarks, which must not overtake them) wait here while faults hold them, encoded
  // already: a held burst is hundreds of MB, and as strings it was this process's garbage when sent.
  let held: Buffer[] = [];
  const write = (text: string): void => {
    if (faults.holdingWatchEvents()) held.push(Buffer.from(text));
    else res.write(text);
  };

  const send = (e: StoreEvent): void => {
    const now = inScope(e.object);
    const before = e.previous !== undefined && inScope(e.previous);
    let type: EventType | undefined;
    if (e.type === "ADDED") type = now ? "ADDED" : undefined;
    else if (e.type === "DELETED") type = before || now ? "DELETED" : undefined;
    else if (now) type = before ? "MODIFIED" : "ADDED";
    else type = before ? "DELETED" : undefined;
    if (type === undefined) return;
    if (w.project !== undefined) {
      write(line(type, w.project(e.object)));
    } else if (type === e.type) {
      let cached = lineCache.get(e);
      if (cached === undefined) {
        cached = line(e.type, e.object);
        lineCache.set(e, cached);
      }
      write(cached);
    } else {
      write(line(type, e.object));
    }
  };

  const initial = w.sendInitialEvents === true || requested === 0;
  if (initial) {
    for (const o of store.list(w.res, w.namespace)) if (w.matches(o)) res.write(line("ADDED", w.project === undefined ? o : w.project(o)));
    if (w.allowBookmarks) res.write(bookmark(w.res, store.currentRv(), true));
  } else {
    const backlog = store.eventsSince(w.res, requested);
    if (backlog === "expired") {
      res.end(line("ERROR", tooOldResourceVersion(requested, store.oldestRv())));
      return;
    }
    for (const e of backlog) send(e);
  }

  const stopFlushing = faults.onWatchEventsReleased(() => {
    const backlog = held;
    held = [];
    let drained = true;
    for (const text of backlog) drained = res.write(text);
    return drained || res.destroyed ? Promise.resolve() : new Promise<void>((resolve) => { res.once("drain", resolve).once("close", resolve); });
  });
  const unsubscribe = store.subscribe((e) => {
    if (e.res === w.res) send(e);
  });
  const timers: NodeJS.Timeout[] = [];
  if (w.allowBookmarks) timers.push(setInterval(() => { write(bookmark(w.res, store.currentRv(), false)); }, deps.bookmarkIntervalMs));
  if (w.timeoutSeconds !== undefined && w.timeoutSeconds > 0) timers.push(setTimeout(() => { finish("close"); }, w.timeoutSeconds * 1000));
  const untrack = faults.trackWatch(finish);

  let finished = false;
  function finish(mode: "close" | "reset"): void {
    if (finished) return;
    finished = true;
    unsubscribe();
    untrack();
    stopFlushing();
    for (const t of timers) clearTimeout(t);
    if (mode === "reset") res.destroy();
    else res.end();
  }
  res.on("close", () => {
    finish("close");
  });
}
