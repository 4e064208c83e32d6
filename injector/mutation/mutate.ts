// Decide, then apply the plan, then diff, then guard: the whole admission mutation of one pod, as pure
// functions of the raw request object. The patch is fast-json-patch's compare against the raw JSON
// the API server sent (never a typed round-trip, which drops unknown fields and yields spurious
// `remove` operations). applyPlan() copies only what it changes, so compare skips every unchanged
// subtree by identity and its cost follows what lameduck adds, not the pod's size.
import jsonpatch, { type Operation } from "fast-json-patch";
import type { ClusterFacts } from "../cluster-facts.ts";
import { decide, type Plan } from "./decide.ts";
import { guardPatch, type Problem } from "./guard.ts";
import { applyPlan } from "./apply-plan.ts";
import { readPod, type Pod } from "./pod.ts";
import { SkipReason, type Policy } from "./policy.ts";

export type Outcome =
  | { readonly result: "skipped"; readonly reason: SkipReason; readonly detail?: string; readonly warnings: readonly string[] }
  | { readonly result: "patched"; readonly plan: Plan; readonly ops: readonly Operation[]; readonly warnings: readonly string[] }
  | { readonly result: "guarded"; readonly plan: Plan; readonly problems: readonly Problem[]; readonly warnings: readonly string[] };

/** The checked JSON Patch that applies `plan` to `pod` (the raw request object). */
export function patchFor(pod: Pod, plan: Plan, warnings: readonly string[] = []): Outcome {
  const ops = jsonpatch.compare(pod, applyPlan(pod, plan));
  if (ops.length === 0) return { result: "skipped", reason: SkipReason.alreadyInjected, warnings };
  const guard = guardPatch(pod, ops);
  if (!guard.ok) return { result: "guarded", plan, problems: guard.problems, warnings };
  return { result: "patched", plan, ops, warnings };
}

/** Everything the webhook and `lameduck inject` do to one pod. */
export function mutatePod(raw: unknown, namespace: string, facts: ClusterFacts, policy: Policy): Outcome {
  const read = readPod(raw);
  if (!read.ok) return { result: "skipped", reason: SkipReason.unreadablePod, detail: read.problem, warnings: [] };
  const decision = decide(read.pod, namespace, facts, policy);
  if (!decision.inject) return { result: "skipped", reason: decision.reason, warnings: decision.warnings };
  return patchFor(read.pod, decision.plan, decision.warnings);
}
