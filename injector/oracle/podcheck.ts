// The oracle's one API lookup per terminating pod: GET each pod the slices claim has the asked uid
// and keep the one that really has it. This is what makes a claim evidence: an EndpointSlice author
// can name any uid in its own namespace, but only the pod with that uid answers the GET with it.
// The same lookup says how the pod is being terminated (termination.ts). Lookups are shared by
// concurrent askers, cached briefly, bounded in concurrency and time.
import { Counter, type Registry } from "prom-client";
import { podFacts, type CheckResult, type PodFacts } from "./termination.ts";
import type { PodRef } from "./state.ts";

/** GET a pod: the raw object, or undefined on 404. */
export type PodLookup = (namespace: string, name: string, signal: AbortSignal) => Promise<unknown>;

export interface PodChecker {
  check(uid: string, claims: readonly PodRef[]): Promise<CheckResult>;
}

export interface PodCheckerDeps {
  readonly lookup: PodLookup;
  readonly registry: Registry;
  /** Lookups in flight at once (default 32); more wait their turn. */
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

export function makePodChecker(deps: PodCheckerDeps): PodChecker {
  const concurrency = deps.concurrency ?? 32;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const ttlMs = deps.ttlMs ?? 5_000;
  const now = deps.now ?? (() => performance.now());
  const cache = new Map<string, { readonly promise: Promise<CheckResult>; expires: number }>();
  const lookups = new Counter({
    name: "lameduck_oracle_pod_lookups_total",
    help: "Pods the oracle looked up when a hook asked, by what it found: deleting, not-deleted (a kubelet-side termination), absent (no pod with that uid where the slices say), failed.",
    labelNames: ["result"] as const,
    registers: [deps.registry],
  });
  let running = 0;
  const queue: (() => void)[] = [];

  // A lookup waits for a slot as long as it takes: the question that wants it is held meanwhile and
  // answered when its own wait ends (podcheck never decides how long a hook waits). The GET itself
  // is bounded.
  const turn = (): Promise<void> =>
    new Promise((resolve) => {
      if (running < concurrency) {
        running += 1;
        resolve();
        return;
      }
      queue.push(() => {
        running += 1;
        resolve();
      });
    });
  const done = (): void => {
    running -= 1;
    queue.shift()?.();
  };

  const one = async (claim: PodRef): Promise<PodFacts | undefined> => {
    await turn();
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
      done();
    }
  };

  const run = async (claims: readonly PodRef[]): Promise<CheckResult> => {
    if (claims.length === 0) return { kind: "absent" };
    if (claims.length > maxClaims) return { kind: "unknown", reason: `${claims.length} pods are claimed to have this uid` };
    const results = await Promise.allSettled(claims.map((c) => one(c)));
    for (const r of results) if (r.status === "fulfilled" && r.value !== undefined) return { kind: "found", pod: r.value };
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed === undefined) return { kind: "absent" };
    const reason: unknown = failed.reason;
    return { kind: "unknown", reason: reason instanceof Error ? reason.message : String(reason) };
  };

  const count = (result: CheckResult): void => {
    const label = result.kind === "unknown" ? "failed" : result.kind === "absent" ? "absent" : result.pod.deletionTimestamp === undefined ? "not-deleted" : "deleting";
    lookups.inc({ result: label });
  };

  return {
    check(uid, claims) {
      const t = now();
      const cached = cache.get(uid);
      if (cached !== undefined && cached.expires > t) return cached.promise;
      const entry = { promise: run(claims), expires: Number.POSITIVE_INFINITY };
      cache.delete(uid);
      cache.set(uid, entry);
      if (cache.size > maxCached) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      void entry.promise.then((result) => {
        count(result);
        entry.expires = now() + (result.kind === "unknown" ? Math.min(ttlMs, 1_000) : ttlMs);
      });
      return entry.promise;
    },
  };
}
