// A list-watch cache that keeps itself alive and never silently stale. It lists in pages, trims every
// object to what lameduck reads before caching it (lean.ts), then watches from the list's
// resourceVersion. A watch that ends cleanly (the server's timeout, client-node's 30 s inactivity
// limit) is resumed from the last resourceVersion; anything else — 410 Expired, "too large resource
// version" after an etcd restore, a 5xx, a reset connection, a failed list — is retried with backoff
// and a full relist, because a cache resumed from a resourceVersion the server cannot honour would
// follow a store that no longer exists. How long it has been failing is exposed for /readyz.
import { setTimeout as sleep } from "node:timers/promises";
import { Gauge, type Counter, type Registry } from "prom-client";
import { backoffDelay } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { ApiStatusError, type RawClient, type Transport } from "./client.ts";
import type { Lean } from "./lean.ts";
import { makeStore } from "./store.ts";
import { startWatch, type WatchHandle } from "./watch.ts";

export type Delay = (ms: number) => Promise<void>;

export interface InformerSpec<T extends Lean> {
  /** Label value of lameduck_informer_restarts_total{resource}. */
  readonly resource: string;
  /** Collection path, e.g. /apis/discovery.k8s.io/v1/endpointslices. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Objects per list page (default 500). */
  readonly pageSize?: number;
  /**
   * Ask for metadata only (PartialObjectMetadata), for objects whose content anyone may make large
   * and lameduck does not need from the cache; transform then sees only metadata.
   */
  readonly metadataOnly?: boolean;
  /**
   * What the cache keeps of an object as the API sends it; undefined skips a malformed one. `cached`
   * is the copy cached under the same name, whose unchanged parts the result may share.
   */
  readonly transform: (raw: unknown, cached?: T) => T | undefined;
}

export interface InformerDeps {
  readonly transport: Transport;
  readonly client: RawClient;
  readonly logger: Logger;
  readonly restarts: Counter<"resource">;
  /** Waits between restarts and before quick reconnects; default: a real timer. */
  readonly delay?: Delay;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Monotonic milliseconds; default performance.now. */
  readonly now?: () => number;
}

export interface Informer<T> {
  onAdd(cb: (obj: T) => void): void;
  onUpdate(cb: (obj: T) => void): void;
  onDelete(cb: (obj: T) => void): void;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** True once the first list has filled the cache; stays true across restarts (as client-go's). */
  hasSynced(): boolean;
  /** Resolves when synced (immediately if already). */
  synced(): Promise<void>;
  /** Since when (deps.now) the cache has not been able to list and watch; undefined while it follows the API. */
  failingSince(): number | undefined;
  start(): void;
  /** Stops listing and watching at once; the cache keeps what it holds. */
  stop(): Promise<void>;
}

const listAccept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const watchAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
/** A watch without a byte for this long (bookmarks come about every minute) is dropped and resumed. */
const idleTimeoutMs = 90_000;

/** A watch that closed within this without an event is reconnected after a short, growing pause. */
const quickCloseMs = 1_000;
const reconnectCapMs = 2_000;

type WatchEnd = { readonly kind: "closed"; readonly events: number; readonly ms: number } | { readonly kind: "expired" } | { readonly kind: "failed"; readonly err: unknown };

function statusError(status: unknown): ApiStatusError | "expired" {
  const s = typeof status === "object" && status !== null ? (status as Record<string, unknown>) : {};
  const code = typeof s["code"] === "number" ? s["code"] : 0;
  if (code === 410) return "expired";
  const reason = typeof s["reason"] === "string" ? s["reason"] : undefined;
  const message = typeof s["message"] === "string" ? s["message"] : "watch error";
  return new ApiStatusError(`watch: ${code} ${message}`, code, reason);
}

/** An object's metadata as the API sent it, its fields not yet checked. */
function rawMetadata(obj: unknown): { readonly name?: unknown; readonly namespace?: unknown; readonly resourceVersion?: unknown } | undefined {
  return typeof obj === "object" && obj !== null ? (obj as { metadata?: { name?: unknown; namespace?: unknown; resourceVersion?: unknown } }).metadata : undefined;
}

function resourceVersionOf(obj: unknown): string | undefined {
  const m = rawMetadata(obj);
  return typeof m?.resourceVersion === "string" ? m.resourceVersion : undefined;
}

export function makeInformer<T extends Lean>(spec: InformerSpec<T>, deps: InformerDeps): Informer<T> {
  const delay = deps.delay ?? ((ms: number) => sleep(ms, undefined, { ref: false }));
  const random = deps.random ?? Math.random;
  const now = deps.now ?? (() => performance.now());
  const { baseMs, maxMs } = deps.backoff ?? { baseMs: 500, maxMs: 30_000 };
  const log = deps.logger.child({ informer: spec.resource });
  const store = makeStore<T>();
  const pageSize = spec.pageSize ?? 500;
  let synced = false;
  let generation = 0;
  let running = false;
  let failing: number | undefined;
  let resourceVersion = "";
  let abort: AbortController | undefined;
  let watch: WatchHandle | undefined;
  const syncWaiters: (() => void)[] = [];

  const cachedCopy = (raw: unknown): T | undefined => {
    const m = rawMetadata(raw);
    return typeof m?.name === "string" ? store.get(m.name, typeof m.namespace === "string" ? m.namespace : undefined) : undefined;
  };

  const relist = async (gen: number): Promise<void> => {
    const seen = new Map<string, Set<string>>();
    let continueToken = "";
    let listed: string;
    do {
      const page = await deps.client.listPage(
        spec.path,
        { labelSelector: spec.labelSelector, fieldSelector: spec.fieldSelector, limit: pageSize, continueToken, ...(spec.metadataOnly === true ? { accept: listAccept } : {}) },
        abort?.signal,
      );
      if (gen !== generation) return;
      for (const raw of page.items) {
        const obj = spec.transform(raw, cachedCopy(raw));
        if (obj === undefined) continue;
        const namespace = obj.metadata.namespace ?? "";
        let names = seen.get(namespace);
        if (names === undefined) {
          names = new Set();
          seen.set(namespace, names);
        }
        names.add(obj.metadata.name);
        store.upsert(obj);
      }
      listed = page.resourceVersion;
      continueToken = page.continueToken;
    } while (continueToken !== "");
    store.retain((namespace, name) => seen.get(namespace)?.has(name) === true);
    resourceVersion = listed;
    if (!synced) {
      synced = true;
      log.info({ objects: store.list().length }, "cache synced");
      for (const resolve of syncWaiters.splice(0)) resolve();
    }
  };

  // One watch from resourceVersion, until it ends. Resolves, never rejects.
  const watchOnce = async (gen: number, onEvent: () => void): Promise<WatchEnd> => {
    const started = now();
    let events = 0;
    let inStream: ApiStatusError | "expired" | undefined;
    const params: Record<string, string> = {
      resourceVersion,
      allowWatchBookmarks: "true",
      // As client-go: the server ends the watch after 5-10 minutes, so reconnects spread out.
      timeoutSeconds: String(Math.round(300 + random() * 300)),
    };
    if (spec.labelSelector !== undefined) params["labelSelector"] = spec.labelSelector;
    if (spec.fieldSelector !== undefined) params["fieldSelector"] = spec.fieldSelector;
    const handle = (phase: string, obj: unknown): void => {
      if (gen !== generation || inStream !== undefined) return;
      if (phase === "ERROR") {
        inStream = statusError(obj);
        watch?.abort();
        return;
      }
      const rv = resourceVersionOf(obj);
      if (phase === "ADDED" || phase === "MODIFIED") {
        const lean = spec.transform(obj, cachedCopy(obj));
        if (lean !== undefined) store.upsert(lean);
      } else if (phase === "DELETED") {
        const lean = spec.transform(obj);
        if (lean !== undefined) store.remove(lean.metadata.name, lean.metadata.namespace);
      }
      if (rv !== undefined) resourceVersion = rv;
      events += 1;
      onEvent();
    };
    const current = startWatch(deps.transport, { path: spec.path, params, accept: spec.metadataOnly === true ? watchAccept : "application/json", idleTimeoutMs }, handle);
    watch = current;
    current.established.then(
      () => {
        // The watch is established: from here the cache follows the API again.
        if (gen === generation) failing = undefined;
      },
      () => undefined,
    );
    const err = await current.ended;
    if (watch === current) watch = undefined;
    if (inStream === "expired") return { kind: "expired" };
    if (inStream !== undefined) return { kind: "failed", err: inStream };
    if (err !== undefined) return { kind: "failed", err };
    return { kind: "closed", events, ms: now() - started };
  };

  const loop = async (gen: number): Promise<void> => {
    let attempt = 0;
    let quickCloses = 0;
    let needList = true;
    let expiredInARow = 0;
    while (gen === generation) {
      try {
        if (needList) {
          abort = new AbortController();
          await relist(gen);
          needList = false;
        }
        if (gen !== generation) return;
        const end = await watchOnce(gen, () => {
          // Any event proves the watch works: the next failure starts the backoff from the bottom.
          attempt = 0;
          expiredInARow = 0;
        });
        if (gen !== generation) return;
        if (end.kind === "failed") throw end.err;
        if (end.kind === "expired") {
          // 410: the resourceVersion is gone from the server's history; only a relist catches up.
          needList = true;
          expiredInARow += 1;
          if (expiredInARow > 1) await delay(backoffDelay(expiredInARow - 2, baseMs, maxMs, random));
          continue;
        }
        quickCloses = end.events === 0 && end.ms < quickCloseMs ? quickCloses + 1 : 0;
        if (quickCloses > 0) await delay(Math.min(reconnectCapMs, 100 * 2 ** (quickCloses - 1)));
      } catch (err) {
        if (gen !== generation) return;
        failing ??= now();
        needList = true;
        deps.restarts.inc({ resource: spec.resource });
        const wait = backoffDelay(attempt, baseMs, maxMs, random);
        attempt += 1;
        log.warn({ err: describe(err), restartInMs: wait, relist: true }, "list-watch failed; restarting");
        await delay(wait);
      }
    }
  };

  return {
    onAdd(cb) {
      store.handlers.add.push(cb);
    },
    onUpdate(cb) {
      store.handlers.update.push(cb);
    },
    onDelete(cb) {
      store.handlers.delete.push(cb);
    },
    get: (name, namespace) => store.get(name, namespace),
    list: (namespace) => store.list(namespace),
    hasSynced: () => synced,
    synced: () => (synced ? Promise.resolve() : new Promise<void>((resolve) => syncWaiters.push(resolve))),
    failingSince: () => (running ? failing : undefined),
    start() {
      if (running) return;
      running = true;
      // Not watching until the first list and watch succeed.
      failing ??= now();
      const gen = ++generation;
      loop(gen).catch((e: unknown) => {
        // Nothing follows the API for this cache any more: /readyz names it after the bound.
        failing ??= now();
        log.error({ err: describe(e) }, "list-watch loop failed");
      });
    },
    stop() {
      running = false;
      generation += 1;
      abort?.abort();
      watch?.abort();
      return Promise.resolve();
    },
  };
}

/** Exposes how long each informer has been failing, per resource. */
export function registerFailingGauge(registry: Registry, informers: readonly { readonly resource: string; readonly informer: Pick<Informer<Lean>, "failingSince"> }[], now: () => number = () => performance.now()): void {
  new Gauge({
    name: "lameduck_informer_watch_failing_seconds",
    help: "How long each cache has not been able to list and watch its resource; 0 while it follows the API.",
    labelNames: ["resource"] as const,
    registers: [registry],
    collect() {
      for (const { resource, informer } of informers) {
        const since = informer.failingSince();
        this.set({ resource }, since === undefined ? 0 : Math.max(0, (now() - since) / 1000));
      }
    },
  });
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const { statusCode, code } = err as { statusCode?: unknown; code?: unknown };
    const status = typeof statusCode === "number" ? statusCode : typeof code === "number" || typeof code === "string" ? code : undefined;
    return status === undefined ? err.message : `${err.message} (${String(status)})`;
  }
  return String(err);
}
