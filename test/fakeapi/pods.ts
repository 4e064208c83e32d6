// Graceful pod deletion (pkg/registry/core/pod/strategy.go CheckGracefulDelete): the pod stays with
// deletionTimestamp and deletionGracePeriodSeconds until the kubelet deletes it with grace 0; a pod
// never bound to a node, or already Succeeded/Failed, goes at once.
import type { Obj } from "./objects.ts";
import { meta, nameOf, namespaceOf, num, obj, str, timestamp } from "./objects.ts";
import { Res } from "./resources.ts";
import type { Store } from "./store.ts";

export function deletePod(store: Store, pod: Obj, requestedGrace: number | undefined): Obj {
  const spec = obj(pod["spec"]);
  const phase = str(obj(pod["status"])["phase"]);
  let grace = requestedGrace ?? num(spec["terminationGracePeriodSeconds"]) ?? 30;
  // A negative grace period is treated as the minimum graceful one (rest.BeforeDelete).
  if (grace < 0) grace = 1;
  const unbound = (str(spec["nodeName"]) ?? "") === "";
  if (unbound || phase === "Succeeded" || phase === "Failed") grace = 0;
  const m = meta(pod);
  const current = num(m["deletionGracePeriodSeconds"]);
  const finalizers = Array.isArray(m["finalizers"]) ? m["finalizers"] : [];
  if (grace === 0 && finalizers.length === 0) return store.remove(Res.pods, namespaceOf(pod), nameOf(pod));
  // A second graceful delete may only shorten the period already running.
  if (current !== undefined && current <= grace) return pod;
  const deletionTimestamp = timestamp(Date.now() + grace * 1000);
  return store.replace(Res.pods, { ...pod, metadata: { ...m, deletionTimestamp, deletionGracePeriodSeconds: grace } }, "bump");
}
