// The drain oracle's core, without HTTP: answers "is pod X still in rotation?", holds askers while
// the answer is `serving`, and wakes exactly the askers of the pods a slice event touched. A hook's
// question (wait > 0) about a pod the slices list is checked against the API first (podcheck.ts,
// termination.ts): only the pod that really has the uid counts, and a pod the kubelet is killing on
// its own, or whose deleter left no time, is let go at once instead of held.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { CheckListener, PodChecker } from "./podcheck.ts";
import type { SliceIndex } from "./slices.ts";
import { DrainState, type Answer, type PodRef } from "./state.ts";
import { judge, type CheckResult } from "./termination.ts";

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
  /** Over --max-waits-per-client for the client's address: answered 503. */
  rejectedClient: "rejected-client",
  /** Answered with the current state because the controller is stopping. */
  shutdown: "shutdown",
  /** 503 before the EndpointSlice cache synced. */
  unsynced: "unsynced",
  /** 400, 404 or 405. */
  invalid: "invalid",
  /** Let go at once: the pod is not being deleted through the API (a kubelet-side termination). */
  notDeleted: "not-deleted",
  /** Let go: waiting longer would take from the grace period the deleter left the application. */
  grace: "grace",
  /** 503: the API could not say how the pod is being terminated. */
  unverified: "unverified",
} as const;
export type WaitOutcome = (typeof WaitOutcome)[keyof typeof WaitOutcome];

export type Reply = { readonly kind: "answer"; readonly answer: Answer } | { readonly kind: "refused"; readonly message: string };

export interface OracleDeps {
  readonly index: SliceIndex;
  readonly maxWaits: number;
  /** Held requests one client address may have (default: no limit beyond maxWaits). */
  readonly maxWaitsPerClient?: number;
  readonly registry: Registry;
  /** Called once per pod when it is first reported `drained`, with the seconds since its first ask. */
  readonly onDrained?: (ref: PodRef, seconds: number) => void;
  /** Checks a hook's pod against the API; without it, answers come from the slices alone. */
  readonly check?: PodChecker;
  /** Monotonic ms. */
  readonly now?: () => number;
  /** Epoch ms, to compare with a pod's deletionTimestamp. */
  readonly wallClock?: () => number;
}

export interface Oracle {
  /**
   * Answers through `reply` (exactly once, maybe synchronously) unless cancelled first, or returns
   * "busy" / "client-busy" when holding another request would pass --max-waits / --max-waits-per-client.
   */
  ask(uid: string, waitMs: number, client: string, reply: (reply: Reply) => void): { cancel(): void } | "busy" | "client-busy";
  /** Slice events changed these pods' views. */
  changed(uids: readonly string[]): void;
  /** Answers every held request now with its current state (shutdown). */
  releaseAll(): void;
  activeWaits(): number;
  count(outcome: WaitOutcome): void;
}

interface Waiter {
  readonly uid: string;
  readonly client: string;
  readonly reply: (reply: Reply) => void;
  timer: NodeJS.Timeout | undefined;
  graceTimer: NodeJS.Timeout | undefined;
  /** The API check: undefined while pending or when there is none. */
  result: CheckResult | undefined;
  /** A lookup was started for this request. */
  readonly verifying: boolean;
}

// Pods asked about recently: when each was first asked (for the drain-time histogram and Event)
// and whether its drain was reported. Bounded by count and age so a flood of unique uids cannot grow it.
const maxTracked = 100_000;
const trackedMaxAgeMs = 2 * 3_600_000;

export function makeOracle(deps: OracleDeps): Oracle {
  const now = deps.now ?? performance.now.bind(performance);
  const wall = deps.wallClock ?? Date.now;
  const perClient = deps.maxWaitsPerClient ?? Number.POSITIVE_INFINITY;
  const { index } = deps;
  const waiters = new Map<string, Set<Waiter>>();
  const byClient = new Map<string, number>();
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
  new Gauge({
    name: "lameduck_oracle_foreign_endpoints",
    help: "EndpointSlice endpoints ignored because their targetRef names a pod of another namespace.",
    registers: [deps.registry],
    collect() {
      this.set(index.foreign());
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

  /** `ref`: the pod an Event may name — one the API confirmed, or any when there is no check. */
  const reported = (uid: string, answer: Answer, ref: PodRef | undefined): void => {
    if (answer.state !== DrainState.drained) return;
    const t = tracked.get(uid);
    if (t === undefined || t.reported) return;
    t.reported = true;
    const seconds = (now() - t.firstAsk) / 1000;
    drainSeconds.observe(seconds);
    if (ref !== undefined) deps.onDrained?.(ref, seconds);
  };

  const detach = (w: Waiter): boolean => {
    const set = waiters.get(w.uid);
    if (set?.delete(w) !== true) return false;
    if (set.size === 0) waiters.delete(w.uid);
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (w.graceTimer !== undefined) clearTimeout(w.graceTimer);
    active -= 1;
    const n = (byClient.get(w.client) ?? 1) - 1;
    if (n <= 0) byClient.delete(w.client);
    else byClient.set(w.client, n);
    return true;
  };

  const finish = (w: Waiter, outcome: WaitOutcome, reply: Reply): void => {
    if (!detach(w)) return;
    waitsTotal.inc({ outcome });
    if (reply.kind === "answer") reported(w.uid, reply.answer, deps.check === undefined || w.result?.kind === "found" ? reply.answer.ref : undefined);
    w.reply(reply);
  };

  /** The answer now: from the pod the API confirmed when there is one. */
  const current = (w: Waiter): Answer => (w.result?.kind === "found" ? index.answer(w.uid, w.result.pod) : index.answer(w.uid));

  /**
   * What a held request gets when its wait ends or the controller stops. While its pod's lookup is
   * pending, the slices alone are trusted to say `serving` (the hook asks again) and nothing else:
   * a claim not yet confirmed must not release a hook or give it ports.
   */
  const settleNow = (w: Waiter): Reply => {
    if (w.verifying && w.result === undefined) {
      const answer = index.answer(w.uid);
      return answer.state === DrainState.serving ? { kind: "answer", answer } : { kind: "refused", message: "the pod's lookup has not answered yet" };
    }
    return { kind: "answer", answer: current(w) };
  };

  /** Answers the waiter if it should not be held any longer; `outcome` names a plain answer. */
  const evaluate = (w: Waiter, outcome: WaitOutcome): void => {
    if (deps.check === undefined) {
      const answer = index.answer(w.uid);
      if (answer.state !== DrainState.serving) finish(w, outcome, { kind: "answer", answer });
      return;
    }
    if (w.result === undefined) return;
    const verdict = judge(w.result, (pod) => index.answer(w.uid, pod), wall());
    if (verdict.kind === "refuse") finish(w, WaitOutcome.unverified, { kind: "refused", message: verdict.message });
    else if (verdict.kind === "answer") finish(w, verdict.reason ?? outcome, { kind: "answer", answer: verdict.answer });
    else if (verdict.until !== undefined && w.graceTimer === undefined) {
      w.graceTimer = setTimeout(() => {
        evaluate(w, WaitOutcome.grace);
      }, Math.max(0, verdict.until - wall()) + 1);
    }
  };

  /** A lookup completed: every request about the pod still waiting for one gets its result. */
  const verified: CheckListener = (uid, result) => {
    for (const w of [...(waiters.get(uid) ?? [])]) {
      if (!w.verifying || w.result !== undefined) continue;
      w.result = result;
      evaluate(w, WaitOutcome.immediate);
    }
  };

  return {
    ask(uid, waitMs, client, reply) {
      track(uid);
      const answer = index.answer(uid);
      const checker = waitMs > 0 && answer.state !== DrainState.unselected ? deps.check : undefined;
      if (checker === undefined && (answer.state !== DrainState.serving || waitMs <= 0)) {
        waitsTotal.inc({ outcome: WaitOutcome.immediate });
        reported(uid, answer, deps.check === undefined ? answer.ref : undefined);
        reply({ kind: "answer", answer });
        return { cancel: () => undefined };
      }
      if (active >= deps.maxWaits) {
        waitsTotal.inc({ outcome: WaitOutcome.rejected });
        return "busy";
      }
      if ((byClient.get(client) ?? 0) >= perClient) {
        waitsTotal.inc({ outcome: WaitOutcome.rejectedClient });
        return "client-busy";
      }
      const w: Waiter = { uid, client, reply, timer: undefined, graceTimer: undefined, result: undefined, verifying: checker !== undefined };
      let set = waiters.get(uid);
      if (set === undefined) {
        set = new Set();
        waiters.set(uid, set);
      }
      set.add(w);
      active += 1;
      byClient.set(client, (byClient.get(client) ?? 0) + 1);
      w.timer = setTimeout(() => {
        const reply = settleNow(w);
        finish(w, reply.kind === "refused" ? WaitOutcome.unverified : WaitOutcome.timeout, reply);
      }, waitMs);
      if (checker !== undefined) {
        const known = checker.check(uid, index.claims(uid), verified);
        if (known !== undefined) {
          w.result = known;
          evaluate(w, WaitOutcome.immediate);
        }
      }
      return {
        cancel() {
          if (detach(w)) waitsTotal.inc({ outcome: WaitOutcome.abandoned });
        },
      };
    },
    changed(uids) {
      for (const uid of uids) {
        for (const w of [...(waiters.get(uid) ?? [])]) evaluate(w, WaitOutcome.released);
      }
    },
    releaseAll() {
      for (const set of [...waiters.values()]) {
        for (const w of [...set]) finish(w, WaitOutcome.shutdown, settleNow(w));
      }
      clearInterval(sweep);
    },
    activeWaits: () => active,
    count(outcome) {
      waitsTotal.inc({ outcome });
    },
  };
}
