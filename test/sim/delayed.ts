// A value that follows its source only after a delay drawn per change, as a load balancer follows
// EndpointSlices. Changes are applied in the order they happened: a change is applied at its own
// drawn time or right after the previous change, whichever is later, so the view never goes back
// to an older state (a real consumer applies its watch stream in order, too).
export interface Timers {
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => performance.now(),
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export interface DelayedView<T> {
  offer(value: T): void;
  current(): T;
  /** Applies a value at once and drops the changes not applied yet: a consumer's full resync. */
  reset(value: T): void;
  /** Changes offered but not applied yet. */
  pending(): number;
  close(): void;
}

export function makeDelayedView<T>(initial: T, drawDelayMs: () => number, onApply: (value: T) => void, timers: Timers = realTimers): DelayedView<T> {
  let value = initial;
  const queue: { readonly at: number; readonly value: T }[] = [];
  let handle: unknown;
  // One timer for the head of the queue keeps the order exact even when two changes fall due in the
  // same millisecond.
  const arm = (): void => {
    const head = queue[0];
    if (handle !== undefined || !head) return;
    handle = timers.set(fire, Math.max(0, head.at - timers.now()));
  };
  const fire = (): void => {
    handle = undefined;
    const now = timers.now();
    for (let head = queue[0]; head && head.at <= now; head = queue[0]) {
      queue.shift();
      value = head.value;
      onApply(head.value);
    }
    arm();
  };
  return {
    offer(next) {
      const last = queue[queue.length - 1];
      queue.push({ at: Math.max(timers.now() + drawDelayMs(), last?.at ?? -Infinity), value: next });
      arm();
    },
    current: () => value,
    reset(next) {
      queue.length = 0;
      value = next;
      onApply(next);
    },
    pending: () => queue.length,
    close() {
      if (handle !== undefined) timers.clear(handle);
      handle = undefined;
      queue.length = 0;
    },
  };
}
