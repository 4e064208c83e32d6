// Applying a plan: a deep copy of the pod with the plan's fields added. Nothing else is touched, so
// the JSON Patch diffed from it names exactly what lameduck changes.
import { Annotation, Label } from "../names.ts";
import type { Plan } from "./decide.ts";
import type { Pod } from "./pod.ts";
import { hookVolume } from "./volume.ts";

/** A copy of `original` with `plan` applied; `original` is not modified. */
export function inject(original: Pod, plan: Plan): Pod {
  const pod = structuredClone(original);
  const metadata = (pod.metadata ??= {});
  const spec = (pod.spec ??= {});
  if (plan.marker !== undefined) (metadata.annotations ??= {})[Annotation.injected] = plan.marker;
  if (plan.hookLabel !== undefined) (metadata.labels ??= {})[Label.hook] = plan.hookLabel;
  if (plan.gracePeriodSeconds !== undefined) spec.terminationGracePeriodSeconds = plan.gracePeriodSeconds;
  const volume = plan.volume;
  if (volume !== undefined && !volume.exists) {
    // A pod without volumes needs the whole array added (`/spec/volumes/-` on a missing array fails).
    (spec.volumes ??= []).push(hookVolume(volume.name, volume.configMapName, volume.key));
  }
  for (const container of spec.containers ?? []) {
    if (!plan.containers.includes(container.name)) continue;
    (container.lifecycle ??= {}).preStop = structuredClone(plan.preStop);
    if (volume !== undefined) (container.volumeMounts ??= []).push({ name: volume.name, mountPath: volume.mountPath, readOnly: true });
  }
  return pod;
}
