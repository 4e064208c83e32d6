// A deduplicating work queue with rate-limited retries, after client-go's workqueue: a key is
// queued at most once; a key added while it is being processed is processed again afterwards (so
// no event is lost and no key runs twice at once); a failed key comes back after a per-key
// exponential backoff. A burst of events for one namespace costs one reconcile, not one each.
import { backoffDelay } from "../backoff.ts";

export type Schedule = (fn: () => void, ms: number) => { cancel(): void };

export interface WorkQueueOptions {
  readonly worker: (key: string) => Promise<void>;
  /** Keys processed at once (reconciles are I/O-bound). */
  readonly concurrency: number;
  readonly retry?: { readonly baseMs: number; readonly maxMs: number };
  readonly schedule?: Schedule;
  /** Called when a key fails, with its consecutive failure count and the retry delay. */
  readonly onError?: (key: string, err: unknown, failures: number, retryInMs: number) => void;
}

export interface WorkQueue {
  add(key: string): void;
  /** Adds the key after ms (the earliest pending time wins). */
  addAfter(key: string, ms: number): void;
  /** Keys waiting or running. */
  depth(): number;
  /** Resolves once nothing is queued or running (delayed keys do not count). */
  idle(): Promise<void>;
  /** Stops taking keys; resolves when the running ones are done. */
  shutDown(): Promise<void>;
}

const realSchedule: Schedule = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return {
    cancel: () => {
      clearTimeout(timer);
    },
  };
};

export function makeWorkQueue(options: WorkQueueOptions): WorkQueue {
  const schedule = options.schedule ?? realSchedule;
  const { baseMs, maxMs } = options.retry ?? { baseMs: 50, maxMs: 60_000 };
  const queue: string[] = [];
  let head = 0;
  const queued = new Set<string>();
  const processing = new Set<string>();
  const dirty = new Set<string>();
  const failures = new Map<string, number>();
  const delayed = new Map<string, { at: number; timer: { cancel(): void } }>();
  let running = 0;
  let shuttingDown = false;
  let idleWaiters: (() => void)[] = [];
  let drained: (() => void) | undefined;

  const checkIdle = (): void => {
    if (running === 0 && queued.size === 0) {
      for (const resolve of idleWaiters) resolve();
      idleWaiters = [];
      drained?.();
    }
  };

  const pump = (): void => {
    while (!shuttingDown && running < options.concurrency && head < queue.length) {
      const key = queue[head] ?? "";
      head += 1;
      if (head > 1024 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      queued.delete(key);
      processing.add(key);
      running += 1;
      void options.worker(key).then(
        () => {
          failures.delete(key);
          finish(key);
        },
        (err: unknown) => {
          const count = (failures.get(key) ?? 0) + 1;
          failures.set(key, count);
          const wait = backoffDelay(count - 1, baseMs, maxMs);
          options.onError?.(key, err, count, wait);
          finish(key);
          addAfter(key, wait);
        },
      );
    }
    checkIdle();
  };

  const finish = (key: string): void => {
    processing.delete(key);
    running -= 1;
    if (dirty.delete(key)) add(key);
    pump();
  };

  const add = (key: string): void => {
    if (shuttingDown || queued.has(key)) return;
    if (processing.has(key)) {
      dirty.add(key);
      return;
    }
    queued.add(key);
    queue.push(key);
    pump();
  };

  const addAfter = (key: string, ms: number): void => {
    if (shuttingDown) return;
    if (ms <= 0) {
      add(key);
      return;
    }
    const at = Date.now() + ms;
    const existing = delayed.get(key);
    if (existing !== undefined) {
      if (existing.at <= at) return;
      existing.timer.cancel();
    }
    delayed.set(key, {
      at,
      timer: schedule(() => {
        delayed.delete(key);
        add(key);
      }, ms),
    });
  };

  return {
    add,
    addAfter,
    depth: () => queued.size + running,
    idle: () => (running === 0 && queued.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
    shutDown: async () => {
      shuttingDown = true;
      for (const { timer } of delayed.values()) timer.cancel();
      delayed.clear();
      queue.length = 0;
      head = 0;
      queued.clear();
      if (running > 0) await new Promise<void>((resolve) => (drained = resolve));
      for (const resolve of idleWaiters) resolve();
      idleWaiters = [];
    },
  };
}
