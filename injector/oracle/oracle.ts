// The drain oracle's core, without HTTP: answers "is pod X still in rotation?", holds askers while
// the answer is `serving`, and wakes exactly the askers of the pods a slice event touched.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { SliceIndex } from "./slices.ts";
import { DrainState, type Answer, type PodRef } from "./state.ts";

export const WaitOutcome = {
  /** Answered at once: not serving, or no wait asked for. */
  immediate: "immediate",
  /** Held, then released by a slice event. */
  released: "released",
  timeout: "timeout",
  /** The client went away while held. */
  abandoned: "abandoned",
  /** Over --max-waits: answered 503. */
  rejected: "rejected",
  /** Answered with the current state because the controller is stopping. */
  shutdown: "shutdown",
  /** 503 before the EndpointSlice cache synced. */
  unsynced: "unsynced",
  /** 400, 404 or 405. */
  invalid: "invalid",
} as const;
export type WaitOutcome = (typeof WaitOutcome)[keyof typeof WaitOutcome];

export interface OracleDeps {
  readonly index: SliceIndex;
  readonly maxWaits: number;
  readonly registry: Registry;
  /** Called once per pod when it is first reported `drained`, with the seconds since its first ask. */
  readonly onDrained?: (ref: PodRef, seconds: number) => void;
  readonly now?: () => number;
}

export interface Oracle {
  /**
   * Answers through `reply` (exactly once, maybe synchronously) unless cancelled first, or returns
   * "busy" when holding another request would pass --max-waits.
   */
  ask(uid: string, waitMs: number, reply: (answer: Answer) => void): { cancel(): void } | "busy";
  /** Slice events changed these pods' views. */
  changed(uids: readonly string[]): void;
  /** Answers every held request now with its current state (shutdown). */
  releaseAll(): void;
  activeWaits(): number;
  count(outcome: WaitOutcome): void;
}

interface Waiter {
  readonly uid: string;
  readonly reply: (answer: Answer) => void;
  timer: NodeJS.Timeout | undefined;
}

// Pods asked about recently: when each was first asked (for the drain-time histogram and Event)
// and whether its drain was reported. Bounded by count and age so a flood of unique uids cannot grow it.
const maxTracked = 100_000;
const trackedMaxAgeMs = 2 * 3_600_000;

export function makeOracle(deps: OracleDeps): Oracle {
  const now = deps.now ?? performance.now.bind(performance);
  const waiters = new Map<string, Set<Waiter>>();
  const tracked = new Map<string, { readonly firstAsk: number; reported: boolean }>();
  let active = 0;

  const waitsTotal = new Counter({
    name: "lameduck_oracle_waits_total",
    help: "Oracle requests by outcome.",
    labelNames: ["outcome"] as const,
    registers: [deps.registry],
  });
  new Gauge({
    name: "lameduck_oracle_active_waits",
    help: "Oracle requests held open right now.",
    registers: [deps.registry],
    collect() {
      this.set(active);
    },
  });
  const drainSeconds = new Histogram({
    name: "lameduck_oracle_drain_seconds",
    help: "Time from a pod's first question to the oracle answering drained.",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [deps.registry],
  });

  const track = (uid: string): void => {
    if (tracked.has(uid)) return;
    tracked.set(uid, { firstAsk: now(), reported: false });
    if (tracked.size > maxTracked) {
      const oldest = tracked.keys().next();
      if (oldest.done !== true) tracked.delete(oldest.value);
    }
  };
  const sweep = setInterval(() => {
    const cutoff = now() - trackedMaxAgeMs;
    for (const [uid, t] of tracked) {
      if (t.firstAsk >= cutoff) break;
      tracked.delete(uid);
    }
  }, 60_000);
  sweep.unref();

  const reported = (uid: string, answer: Answer): void => {
    if (answer.state !== DrainState.drained) return;
    const t = tracked.get(uid);
    if (t === undefined || t.reported) return;
    t.reported = true;
    const seconds = (now() - t.firstAsk) / 1000;
    drainSeconds.observe(seconds);
    if (answer.ref !== undefined) deps.onDrained?.(answer.ref, seconds);
  };

  const detach = (w: Waiter): boolean => {
    const set = waiters.get(w.uid);
    if (set?.delete(w) !== true) return false;
    if (set.size === 0) waiters.delete(w.uid);
    if (w.timer !== undefined) clearTimeout(w.timer);
    active -= 1;
    return true;
  };

  const finish = (w: Waiter, outcome: WaitOutcome, answer: Answer): void => {
    if (!detach(w)) return;
    waitsTotal.inc({ outcome });
    reported(w.uid, answer);
    w.reply(answer);
  };

  return {
    ask(uid, waitMs, reply) {
      track(uid);
      const answer = deps.index.answer(uid);
      if (answer.state !== DrainState.serving || waitMs <= 0) {
        waitsTotal.inc({ outcome: WaitOutcome.immediate });
        reported(uid, answer);
        reply(answer);
        return { cancel: () => undefined };
      }
      if (active >= deps.maxWaits) {
        waitsTotal.inc({ outcome: WaitOutcome.rejected });
        return "busy";
      }
      const w: Waiter = { uid, reply, timer: undefined };
      let set = waiters.get(uid);
      if (set === undefined) {
        set = new Set();
        waiters.set(uid, set);
      }
      set.add(w);
      active += 1;
      w.timer = setTimeout(() => {
        finish(w, WaitOutcome.timeout, deps.index.answer(uid));
      }, waitMs);
      return {
        cancel() {
          if (detach(w)) waitsTotal.inc({ outcome: WaitOutcome.abandoned });
        },
      };
    },
    changed(uids) {
      for (const uid of uids) {
        const set = waiters.get(uid);
        if (set === undefined) continue;
        const answer = deps.index.answer(uid);
        if (answer.state === DrainState.serving) continue;
        for (const w of [...set]) finish(w, WaitOutcome.released, answer);
      }
    },
    releaseAll() {
      for (const [uid, set] of [...waiters]) {
        const answer = deps.index.answer(uid);
        for (const w of [...set]) finish(w, WaitOutcome.shutdown, answer);
      }
      clearInterval(sweep);
    },
    activeWaits: () => active,
    count(outcome) {
      waitsTotal.inc({ outcome });
    },
  };
}
