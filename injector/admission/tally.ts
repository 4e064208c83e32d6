// A review thread's counters: the review counts here, and the pool adds the tallies to the HTTPS
// thread's Prometheus registry (prom-client registries cannot be shared between threads).
import type { Inc, ReviewCounters } from "./metrics.ts";

export type CounterName = keyof ReviewCounters;
/** One counter's increase for one label set since the last take(). */
export type TallyEntry = readonly [counter: CounterName, labels: Readonly<Record<string, string>>, increase: number];

export interface Tally {
  readonly counters: ReviewCounters;
  /** What was counted since the last call, and start again from zero. */
  take(): TallyEntry[];
}

export function makeTally(): Tally {
  let counts = new Map<string, { counter: CounterName; labels: Readonly<Record<string, string>>; n: number }>();
  const counter = <L extends string>(name: CounterName): Inc<L> => ({
    inc(labels, value = 1) {
      // Label sets are one key each here ({result}, {mode}, {reason}): the value names the series.
      const key = `${name}\u0000${Object.values(labels).join("\u0000")}`;
      const entry = counts.get(key);
      if (entry === undefined) counts.set(key, { counter: name, labels: { ...labels }, n: value });
      else entry.n += value;
    },
  });
  return {
    counters: { reviews: counter("reviews"), injections: counter("injections"), skips: counter("skips"), patchRejected: counter("patchRejected") },
    take() {
      const entries = [...counts.values()].map((e): TallyEntry => [e.counter, e.labels, e.n]);
      counts = new Map();
      return entries;
    },
  };
}

/** Adds a review thread's tally to the registry's counters. */
export function addTally(counters: ReviewCounters, entries: readonly TallyEntry[]): void {
  for (const [name, labels, increase] of entries) {
    (counters[name] as Inc<string>).inc(labels, increase);
  }
}
