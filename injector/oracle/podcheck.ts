// The oracle's one API lookup per terminating pod: GET each pod the slices claim has the asked uid
// and keep the one that really has it. This is what makes a claim evidence: an EndpointSlice author
// can name any uid in its own namespace, but only the pod with that uid answers the GET with it.
// The same lookup says how the pod is being terminated (termination.ts). Lookups are shared by
// concurrent askers, cached briefly, bounded in concurrency and time.
//
// A mass rollout asks about thousands of pods within a second, and most questions wait seconds for
// their turn. A waiting lookup is one entry of a queue of uids (about 0.3 KB), not a chain of
// promises per question: those chains, 2.4 KB each, outlived the young generation, were promoted
// and then died in the old one — 24 MB of garbage for 10,000 held waits, kept until the next full
// GC (oracle bench, --trace-gc). A finished lookup tells one listener per uid, not each question.
import { Counter, type Registry } from "prom-client";
import { podFacts, type CheckResult, type PodFacts } from "./termination.ts";
import type { PodRef } from "./state.ts";

/** GET a pod: the raw object, or undefined on 404. */
export type PodLookup = (namespace: string, name: string, signal: AbortSignal) => Promise<unknown>;

/** Told a uid's result when its lookup completes (once per lookup, however many asked). */
export type CheckListener = (uid: string, result: CheckResult) => void;

export interface PodChecker {
  /**
   * The uid's result when one is known; otherwise undefined, and `onResult` is called when the
   * lookup this starts (or joins) completes.
   */
  check(uid: string, claims: readonly PodRef[], onResult: CheckListener): CheckResult | undefined;
}

export interface PodCheckerDeps {
  readonly lookup: PodLookup;
  readonly registry: Registry;
  /** GETs in flight at once (default 32); more wait their turn. */
  readonly concurrency?: number;
  /** How long one GET may take (default 10 s; the question waiting for it is answered at its own wait's end). */
  readonly timeoutMs?: number;
  /** How long a result is reused for the same uid (default 5 s; 1 s for a failed lookup). */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

// A pod has one (namespace, name); several distinct claims mean forged ones. A handful is checked,
// beyond that the oracle does not spend API calls on an attacker's list.
const maxClaims = 4;
const maxCached = 10_000;

interface Lookup {
  readonly claims: readonly PodRef[];
  readonly listeners: CheckListener[];
}

export function makePodChecker(deps: PodCheckerDeps): PodChecker {
  const concurrency = deps.concurrency ?? 32;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const ttlMs = deps.ttlMs ?? 5_000;
  const now = deps.now ?? (() => performance.now());
  // Oldest first (a Map keeps insertion order): the queue, and the cache's eviction order.
  const queued = new Map<string, Lookup>();
  const running = new Map<string, Lookup>();
  const cache = new Map<string, { readonly result: CheckResult; readonly expires: number }>();
  let gets = 0;
  const lookups = new Counter({
    name: "lameduck_oracle_pod_lookups_total",
    help: "Pods the oracle looked up when a hook asked, by what it found: deleting, not-deleted (a kubelet-side termination), absent (no pod with that uid where the slices say), failed.",
    labelNames: ["result"] as const,
    registers: [deps.registry],
  });

  const count = (result: CheckResult): void => {
    const label = result.kind === "unknown" ? "failed" : result.kind === "absent" ? "absent" : result.pod.deletionTimestamp === undefined ? "not-deleted" : "deleting";
    lookups.inc({ result: label });
  };

  const one = async (claim: PodRef): Promise<PodFacts | undefined> => {
    // Not AbortSignal.timeout(): its timer would keep the finished request reachable until it fires.
    const abort = new AbortController();
    const timer = setTimeout(() => {
      abort.abort(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      const raw = await deps.lookup(claim.namespace, claim.name, abort.signal);
      const pod = raw === undefined ? undefined : podFacts(raw);
      return pod !== undefined && pod.uid === claim.uid && pod.namespace === claim.namespace ? pod : undefined;
    } finally {
      clearTimeout(timer);
    }
  };

  const run = async (claims: readonly PodRef[]): Promise<CheckResult> => {
    const results = await Promise.allSettled(claims.map((c) => one(c)));
    for (const r of results) if (r.status === "fulfilled" && r.value !== undefined) return { kind: "found", pod: r.value };
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed === undefined) return { kind: "absent" };
    const reason: unknown = failed.reason;
    return { kind: "unknown", reason: reason instanceof Error ? reason.message : String(reason) };
  };

  const remember = (uid: string, result: CheckResult): void => {
    const t = now();
    cache.delete(uid);
    cache.set(uid, { result, expires: t + (result.kind === "unknown" ? Math.min(ttlMs, 1_000) : ttlMs) });
    // Expired results are dropped oldest first rather than kept until the cap pushes them out.
    for (const [key, entry] of cache) {
      if (entry.expires > t && cache.size <= maxCached) break;
      cache.delete(key);
    }
  };

  // A lookup waits for its turn as long as it takes: the questions that want it are held meanwhile
  // and answered when their own waits end (podcheck never decides how long a hook waits). The GETs
  // themselves are bounded.
  const pump = (): void => {
    for (const [uid, lookup] of queued) {
      if (gets > 0 && gets + lookup.claims.length > concurrency) return;
      queued.delete(uid);
      running.set(uid, lookup);
      gets += lookup.claims.length;
      void run(lookup.claims).then((result) => {
        gets -= lookup.claims.length;
        running.delete(uid);
        remember(uid, result);
        count(result);
        try {
          for (const listener of lookup.listeners) listener(uid, result);
        } finally {
          pump();
        }
      });
    }
  };

  return {
    check(uid, claims, onResult) {
      const cached = cache.get(uid);
      if (cached !== undefined && cached.expires > now()) return cached.result;
      if (claims.length === 0 || claims.length > maxClaims) {
        const result: CheckResult = claims.length === 0 ? { kind: "absent" } : { kind: "unknown", reason: `${claims.length} pods are claimed to have this uid` };
        count(result);
        return result;
      }
      const pending = running.get(uid) ?? queued.get(uid);
      if (pending !== undefined) {
        if (!pending.listeners.includes(onResult)) pending.listeners.push(onResult);
        return undefined;
      }
      queued.set(uid, { claims, listeners: [onResult] });
      pump();
      return undefined;
    },
  };
}
