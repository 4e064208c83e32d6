// A list-watch cache that keeps itself alive. client-node's ListWatch relists on 410 Gone and
// reconnects after a clean close, but after any other error (a failed list, a 500 or 403 on the
// watch, a reset connection) it calls its error handlers and stops for good; its own example
// restarts it after a delay. This wrapper does that with exponential backoff and jitter, through an
// injectable delay so tests control time, and counts the restarts.
import { ListWatch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import type { Counter } from "prom-client";
import { backoffDelay } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { PacedWatch } from "./paced-watch.ts";

export type Delay = (ms: number) => Promise<void>;

const reconnectCapMs = 2_000;

export interface InformerSpec<T extends KubernetesObject> {
  /** Label value of lameduck_informer_restarts_total{resource}. */
  readonly resource: string;
  /** Collection path, e.g. /apis/discovery.k8s.io/v1/endpointslices. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
}

export interface InformerDeps {
  readonly kc: KubeConfig;
  readonly logger: Logger;
  readonly restarts: Counter<"resource">;
  /** Waits between restarts and before client-node's own reconnects; default: a real timer. */
  readonly delay?: Delay;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

export interface Informer<T extends KubernetesObject> {
  onAdd(cb: (obj: T) => void): void;
  onUpdate(cb: (obj: T) => void): void;
  onDelete(cb: (obj: T) => void): void;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** True once the first list has filled the cache; stays true across restarts (as client-go's). */
  hasSynced(): boolean;
  /** Resolves when synced (immediately if already). */
  synced(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function makeInformer<T extends KubernetesObject>(spec: InformerSpec<T>, deps: InformerDeps): Informer<T> {
  const delay = deps.delay ?? ((ms: number) => sleep(ms, undefined, { ref: false }));
  const random = deps.random ?? Math.random;
  const { baseMs, maxMs } = deps.backoff ?? { baseMs: 500, maxMs: 30_000 };
  const log = deps.logger.child({ informer: spec.resource });
  let listedOnce = false;
  let synced = false;
  let stopped = true;
  let attempt = 0;
  const syncWaiters: (() => void)[] = [];

  const list = async (): Promise<KubernetesListObject<T>> => {
    const result = await spec.list();
    listedOnce = true;
    attempt = 0;
    return result;
  };
  // client-node also waits before reconnecting a watch that closed cleanly without any event in
  // between, doubling from 1 s to 30 s. An EndpointSlice change held back 30 s keeps hooks waiting
  // that long, so its wait is capped: closes that lose nothing need no long backoff.
  const reconnect: Delay = (ms) => delay(Math.min(ms, reconnectCapMs));
  // PacedWatch, not client-node's Watch: a burst of events must not hold the event loop (paced-watch.ts).
  const lw = new ListWatch<T>(spec.path, new PacedWatch(deps.kc), list, false, spec.labelSelector, undefined, { delayFn: reconnect });

  const markSynced = (): void => {
    if (synced || !listedOnce) return;
    synced = true;
    log.info("cache synced");
    for (const resolve of syncWaiters.splice(0)) resolve();
  };

  const run = async (): Promise<void> => {
    await lw.start();
    markSynced();
  };

  lw.on("error", (err: unknown) => {
    if (stopped) return;
    deps.restarts.inc({ resource: spec.resource });
    const wait = backoffDelay(attempt, baseMs, maxMs, random);
    attempt += 1;
    log.warn({ err: describe(err), restartInMs: wait }, "list-watch failed; restarting");
    void delay(wait).then(() => (stopped ? undefined : run())).catch((e: unknown) => {
      log.error({ err: describe(e) }, "restart failed");
    });
  });
  // Any event proves the watch works again: the next failure starts the backoff from the bottom.
  const resetBackoff = (): void => {
    attempt = 0;
  };
  lw.on("add", resetBackoff);
  lw.on("update", resetBackoff);
  lw.on("delete", resetBackoff);

  return {
    onAdd(cb) {
      lw.on("add", cb);
    },
    onUpdate(cb) {
      lw.on("update", cb);
    },
    onDelete(cb) {
      lw.on("delete", cb);
    },
    get: (name, namespace) => lw.get(name, namespace),
    list: (namespace) => lw.list(namespace),
    hasSynced: () => synced,
    synced: () => (synced ? Promise.resolve() : new Promise<void>((resolve) => syncWaiters.push(resolve))),
    start() {
      if (!stopped) return;
      stopped = false;
      run().catch((e: unknown) => {
        log.error({ err: describe(e) }, "start failed");
      });
    },
    async stop() {
      stopped = true;
      await lw.stop();
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const { statusCode, code } = err as { statusCode?: unknown; code?: unknown };
    const status = typeof statusCode === "number" ? statusCode : typeof code === "number" || typeof code === "string" ? code : undefined;
    return status === undefined ? err.message : `${err.message} (${String(status)})`;
  }
  return String(err);
}
