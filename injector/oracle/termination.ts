// How a pod is being terminated, from the one lookup the oracle makes when a hook asks (the API, not
// the slices, knows), and what a held wait may therefore do. Pure: the lookup is podcheck.ts.
//
// Two terminations look alike in the EndpointSlices while a preStop hook runs:
// - an API deletion (kubectl delete, a rollout, an eviction through pods/eviction, a drain): the pod
//   has a deletionTimestamp and its endpoints turn terminating within milliseconds, so holding until
//   they do is right — but not past the point where the wait would eat into the application's own
//   grace period, which a deleter can shorten (drain --grace-period, DeleteOptions);
// - a kubelet-side kill (graceful node shutdown, node-pressure eviction, kubelet preemption, a
//   liveness restart): no deletionTimestamp, and the kubelet holds back the pod's terminal phase and
//   DisruptionTarget condition until its containers have stopped (status_manager.go mergePodStatus),
//   so the endpoint stays ready=true for the whole preStop. Holding would only run the hook into the
//   kubelet's shortened grace period (shutdownGracePeriod's share, an eviction's override) and leave
//   the application its 2-second minimum. The answer is to let the hook go at once.
// When the oracle cannot tell (the API does not answer), it refuses with 503: the hook then retries
// briefly and sleeps its fixed --fallback, the bounded default it has for a missing oracle.
import { parseDuration } from "../duration.ts";
import { DrainState, type Answer, type PodRef } from "./state.ts";

/** What the oracle reads of a pod it looks up. */
export interface PodFacts extends PodRef {
  /** RFC 3339: when the grace period of an API deletion runs out. */
  readonly deletionTimestamp?: string;
  readonly terminationGracePeriodSeconds?: number;
  /** --max of the lameduck `wait` hook in the pod's preStop, when lameduck injected it. */
  readonly hookMaxMs?: number;
}

export type CheckResult =
  | { readonly kind: "unknown"; readonly reason: string }
  /** None of the pods the slices name has this uid (gone, recreated, or a forged targetRef). */
  | { readonly kind: "absent" }
  | { readonly kind: "found"; readonly pod: PodFacts };

export const Reason = {
  /** Not deleted through the API: the kubelet is terminating it (or restarting a container). */
  notDeleted: "not-deleted",
  /** Deleted with a grace period that leaves no time to wait without taking the application's own. */
  grace: "grace",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export type Verdict =
  | { readonly kind: "answer"; readonly answer: Answer; readonly reason?: Reason }
  /** Keep holding while serving, but answer by `until` (epoch ms) at the latest. */
  | { readonly kind: "hold"; readonly until: number | undefined }
  | { readonly kind: "refuse"; readonly message: string };

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function hookMax(containers: unknown): number | undefined {
  if (!Array.isArray(containers)) return undefined;
  for (const c of containers as unknown[]) {
    const command = obj(obj(obj(obj(c)?.["lifecycle"])?.["preStop"])?.["exec"])?.["command"];
    if (!Array.isArray(command) || command[1] !== "wait" || typeof command[0] !== "string" || !command[0].endsWith("/hook")) continue;
    for (const arg of command as unknown[]) {
      if (typeof arg !== "string" || !arg.startsWith("--max=")) continue;
      const parsed = parseDuration(arg.slice("--max=".length));
      if (parsed.ok) return parsed.ms;
    }
  }
  return undefined;
}

/** A pod as the API returns it, reduced to PodFacts; undefined when it is not a pod. */
export function podFacts(raw: unknown): PodFacts | undefined {
  const pod = obj(raw);
  const m = obj(pod?.["metadata"]);
  const spec = obj(pod?.["spec"]);
  const name = m?.["name"];
  const namespace = m?.["namespace"];
  const uid = m?.["uid"];
  if (typeof name !== "string" || typeof namespace !== "string" || typeof uid !== "string") return undefined;
  const deletion = m?.["deletionTimestamp"];
  const grace = spec?.["terminationGracePeriodSeconds"];
  const max = hookMax(spec?.["containers"]);
  return {
    namespace,
    name,
    uid,
    ...(typeof deletion === "string" ? { deletionTimestamp: deletion } : {}),
    ...(typeof grace === "number" ? { terminationGracePeriodSeconds: grace } : {}),
    ...(max === undefined ? {} : { hookMaxMs: max }),
  };
}

/**
 * Epoch ms after which holding would eat into the application's own grace period: the deletion's
 * end minus what the application had before lameduck added --max. A plain deletion gives the hook
 * exactly its --max; a shortened one gives it less, or nothing. Undefined when not computable.
 */
export function releaseBy(pod: PodFacts): number | undefined {
  if (pod.deletionTimestamp === undefined || pod.terminationGracePeriodSeconds === undefined || pod.hookMaxMs === undefined) return undefined;
  const end = Date.parse(pod.deletionTimestamp);
  if (!Number.isFinite(end)) return undefined;
  return end - Math.max(0, pod.terminationGracePeriodSeconds * 1000 - pod.hookMaxMs);
}

function release(pod: PodFacts, reason: Reason): Answer {
  return { state: DrainState.unselected, ports: [], nodeName: undefined, ref: { namespace: pod.namespace, name: pod.name, uid: pod.uid }, reason };
}

/** What to do with a hook's question, given the lookup and the slices' answer about the pod found. */
export function judge(check: CheckResult, answerFor: (pod: PodFacts) => Answer, now: number): Verdict {
  if (check.kind === "unknown") return { kind: "refuse", message: `cannot tell how the pod is being terminated: ${check.reason}` };
  if (check.kind === "absent") return { kind: "answer", answer: { state: DrainState.unselected, ports: [], nodeName: undefined, ref: undefined } };
  const answer = answerFor(check.pod);
  if (answer.state !== DrainState.serving) return { kind: "answer", answer };
  if (check.pod.deletionTimestamp === undefined) return { kind: "answer", answer: release(check.pod, Reason.notDeleted), reason: Reason.notDeleted };
  const by = releaseBy(check.pod);
  if (by !== undefined && by <= now) return { kind: "answer", answer: release(check.pod, Reason.grace), reason: Reason.grace };
  return { kind: "hold", until: by };
}
