// Applying a plan: a new pod with the plan's fields added. Nothing else is touched, so the JSON Patch
// diffed from it names exactly what lameduck changes.
import { Annotation, Label } from "../names.ts";
import type { Plan } from "./decide.ts";
import type { Container, Pod } from "./pod.ts";
import { hookMounts, hookVolumes } from "./volume.ts";

/**
 * `original` with `plan` applied; `original` is not modified. Copy-on-write: only the objects on the
 * way to a changed field are copied, unchanged subtrees (managedFields, other containers, …) are
 * shared, which lets compare() skip them by identity instead of walking a deep clone. The added
 * preStop is the plan's own object (compare() clones what it puts into the patch).
 */
export function applyPlan(original: Pod, plan: Plan): Pod {
  const metadata = { ...original.metadata };
  if (plan.marker !== undefined) metadata.annotations = { ...metadata.annotations, [Annotation.injected]: plan.marker };
  if (plan.hookLabel !== undefined) metadata.labels = { ...metadata.labels, [Label.hook]: plan.hookLabel };
  const spec = { ...original.spec };
  if (plan.gracePeriodSeconds !== undefined) spec.terminationGracePeriodSeconds = plan.gracePeriodSeconds;
  const volume = plan.volume;
  if (volume !== undefined && !volume.exists) {
    // A pod without volumes needs the whole array added (`/spec/volumes/-` on a missing array fails).
    spec.volumes = [...(spec.volumes ?? []), ...hookVolumes(volume)];
  }
  const mounts = volume === undefined ? [] : hookMounts(volume);
  const targets = new Set(plan.containers);
  const target = (container: Container): Container => {
    if (!targets.has(container.name)) return container;
    const injected: Container = { ...container, lifecycle: { ...container.lifecycle, preStop: plan.preStop } };
    if (mounts.length > 0) injected.volumeMounts = [...(container.volumeMounts ?? []), ...mounts.map((m) => ({ ...m }))];
    return injected;
  };
  if (spec.containers !== undefined) spec.containers = spec.containers.map(target);
  return { ...original, metadata, spec };
}
