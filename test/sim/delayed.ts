// Values that follow their source only after a delay drawn per change, as load balancers follow
// EndpointSlices. Two models:
// - `makeKeyedDelayedView` (per key, the faithful one): each key's change takes effect after its own
//   drawn delay, independently of other keys, as a cloud load balancer registers each target on its
//   own and kube-proxy programs the latest state at each sync. A key never goes back to an older
//   state: when a change is applied, that key's older changes still pending are dropped.
// - `makeDelayedView` (one in-order queue of whole values): a change is applied at its own drawn time
//   or right after the previous change, whichever is later. During a burst of changes this
//   head-of-line blocking pushes every delay towards the top of the profile.
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

export interface KeyedDelayedView<V> {
  /** The source's full current state; each key whose value appeared, changed or left is one change. */
  offer(values: ReadonlyMap<string, V>): void;
  current(): ReadonlyMap<string, V>;
  /** Applies a state at once and drops the changes not applied yet: a consumer's full resync. */
  reset(values: ReadonlyMap<string, V>): void;
  /** Changes offered but neither applied nor superseded yet. */
  pending(): number;
  close(): void;
}

interface KeyedChange<V> {
  readonly key: string;
  readonly value: V | undefined;
  handle: unknown;
}

export function makeKeyedDelayedView<V>(
  drawDelayMs: () => number,
  same: (a: V, b: V) => boolean,
  onApply: (values: ReadonlyMap<string, V>) => void,
  timers: Timers = realTimers,
): KeyedDelayedView<V> {
  let applied = new Map<string, V>();
  let offered = new Map<string, V>();
  // Insertion order is offer order, so a key's older changes come before its newer ones.
  const pending = new Set<KeyedChange<V>>();
  const dropAll = (): void => {
    for (const change of pending) timers.clear(change.handle);
    pending.clear();
  };
  const apply = (change: KeyedChange<V>): void => {
    // Only the changes offered before this one are older; stop at it.
    for (const other of pending) {
      if (other === change) break;
      if (other.key !== change.key) continue;
      timers.clear(other.handle);
      pending.delete(other);
    }
    pending.delete(change);
    if (change.value === undefined) applied.delete(change.key);
    else applied.set(change.key, change.value);
    onApply(applied);
  };
  return {
    offer(values) {
      for (const key of new Set([...offered.keys(), ...values.keys()])) {
        const before = offered.get(key);
        const after = values.get(key);
        const changed = before === undefined || after === undefined ? before !== after : !same(before, after);
        if (!changed) continue;
        const change: KeyedChange<V> = { key, value: after, handle: undefined };
        pending.add(change);
        change.handle = timers.set(() => { apply(change); }, drawDelayMs());
      }
      offered = new Map(values);
    },
    current: () => applied,
    reset(values) {
      dropAll();
      applied = new Map(values);
      offered = new Map(values);
      onApply(applied);
    },
    pending: () => pending.size,
    close() {
      dropAll();
    },
  };
}
