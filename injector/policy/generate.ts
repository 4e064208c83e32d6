// The MutatingAdmissionPolicy (admissionregistration.k8s.io/v1) and its binding that make the API
// server inject pods itself, as the webhook would: same opt-outs (namespace and pod label
// selectors, the mirror-pod and container-count conditions), same settings from annotations and
// namespace labels (a bad value → the next source, then the default), same preStop, volume, mounts,
// grace period and marker. JSONPatch, because an apply configuration cannot set
// preStop.exec.command (an atomic list). No params object: everything the policy needs is baked in,
// and the controller rewrites the policy when any of it changes.
import { HookSourceKind, NamespaceSelection, type RunConfig } from "../config.ts";
import { Annotation, Label, hookConfigMapName, managedByValue } from "../names.ts";
import { str, tooManyContainers, variables, type PolicyFacts } from "./expressions.ts";

export const policyName = "lameduck";
const apiVersion = "admissionregistration.k8s.io/v1";

export type PolicyConfig = Pick<RunConfig, "defaults" | "namespaceSelection" | "excludedNamespaces" | "maxGracePeriodSeconds" | "hookSource">;

export interface ClusterSnapshot {
  readonly oracleAddress: string | undefined;
  readonly architectures: readonly string[];
  readonly hookHash: string | undefined;
}

export interface InjectionPolicy {
  readonly policy: Record<string, unknown>;
  readonly binding: Record<string, unknown>;
}

const v = (name: string): string => `variables.${name}`;

/** `path` + `/` + key, or the whole map when the pod has none yet (adding to a missing map fails). */
function addToMap(has: string, path: string, key: string, value: string): string {
  return `${has} ? JSONPatch{op: 'add', path: ${str(`${path}/`)} + jsonpatch.escapeKey(${str(key)}), value: ${value}} : JSONPatch{op: 'add', path: ${str(path)}, value: {${str(key)}: ${value}}}`;
}

/** The projected volume of DESIGN.md ("The injected pod"), as volume.ts builds it. */
function hookVolume(hookHash: string): string {
  const fields = ["uid", "name", "namespace"].map((f) => `{'path': 'pod/${f}', 'fieldRef': {'fieldPath': 'metadata.${f}'}}`).join(", ");
  return `{'name': ${v("volume")}.name, 'projected': {'sources': [{'configMap': {'name': ${str(hookConfigMapName(hookHash))}, 'optional': true, 'items': [{'key': ${v("hookKey")}, 'path': 'hook', 'mode': 365}]}}, {'downwardAPI': {'items': [${fields}]}}]}}`;
}

/** The image volume and the podinfo volume of volume.ts (hookVolumes), for the hook image. */
function imageVolumes(image: string): string {
  const fields = ["uid", "name", "namespace"].map((f) => `{'path': 'pod/${f}', 'fieldRef': {'fieldPath': 'metadata.${f}'}}`).join(", ");
  return `{'name': ${v("volume")}.name, 'image': {'reference': ${str(image)}, 'pullPolicy': 'IfNotPresent'}}, {'name': ${v("volume")}.podinfoName, 'downwardAPI': {'items': [${fields}]}}`;
}

/** Adds each of `volumes` (a CEL list's items, written out) to the pod's volumes. */
function addVolumes(volumes: string, count: number): string {
  const appended = Array.from({ length: count }, (_, i) => `JSONPatch{op: 'add', path: '/spec/volumes/-', value: [${volumes}][${String(i)}]}`).join(", ");
  return `(${v("newVolume")} ? (has(object.spec.volumes) ? [${appended}] : [JSONPatch{op: 'add', path: '/spec/volumes', value: [${volumes}]}]) : [])`;
}

/**
 * Each target container's mounts of `mounts` (a CEL list, written out): appended where the
 * container has volumeMounts, else the list added whole; the first mount for every target, then
 * the others, so that each container's mounts end in the order of the list.
 */
function addMounts(mounts: string, count: number, container: string): string {
  const first = `targets.map(c, has(c.volumeMounts) ? JSONPatch{op: 'add', path: ${container} + '/volumeMounts/-', value: [${mounts}][0]} : JSONPatch{op: 'add', path: ${container} + '/volumeMounts', value: [${mounts}]})`;
  const rest = Array.from({ length: count - 1 }, (_, i) => ` + targets.filter(c, has(c.volumeMounts)).map(c, JSONPatch{op: 'add', path: ${container} + '/volumeMounts/-', value: [${mounts}][${String(i + 1)}]})`).join("");
  return `(${v("handler")} != 'wait' ? [] : ${first}${rest})`;
}

/** The JSON Patch: the same operations the webhook's diff yields, in the same order. */
function patchExpression(hookHash: string | undefined, image: string | undefined): string {
  const container = "'/spec/containers/' + string(containerNames.indexOf(c.name))";
  const marker = `'v1 ' + (${v("handler")} == 'native-sleep' ? 'sleep' : 'wait')`;
  const grace = "object.spec.terminationGracePeriodSeconds";
  const ops = [
    `(${v("marked")} ? [] : [${addToMap("has(object.metadata.annotations)", "/metadata/annotations", Annotation.injected, marker)}])`,
    hookHash === undefined || image !== undefined ? "[]" : `(${v("newVolume")} ? [${addToMap("has(object.metadata.labels)", "/metadata/labels", Label.hook, str(hookHash))}] : [])`,
    `(!${v("marked")} && (!has(${grace}) || ${grace} != ${v("grace")}) ? [JSONPatch{op: 'add', path: '/spec/terminationGracePeriodSeconds', value: ${v("grace")}}] : [])`,
    image !== undefined ? addVolumes(imageVolumes(image), 2) : hookHash === undefined ? "[]" : addVolumes(hookVolume(hookHash), 1),
    `targets.map(c, has(c.lifecycle) ? JSONPatch{op: 'add', path: ${container} + '/lifecycle/preStop', value: ${v("preStop")}} : JSONPatch{op: 'add', path: ${container} + '/lifecycle', value: {'preStop': ${v("preStop")}}})`,
    image === undefined
      ? addMounts(`{'name': ${v("volume")}.name, 'mountPath': ${v("volume")}.mountPath, 'readOnly': true}`, 1, container)
      : addMounts(`{'name': ${v("volume")}.name, 'mountPath': ${v("volume")}.mountPath, 'readOnly': true}, {'name': ${v("volume")}.podinfoName, 'mountPath': ${v("volume")}.podinfoPath, 'readOnly': true}`, 2, container),
  ];
  // `targets` and `containerNames` bound once: indexOf on container names (unique in a pod) gives
  // each target's position, which JSON Patch paths need.
  return `size(${v("targets")}) == 0 ? [] : [object.spec.containers.filter(c, c.name in ${v("targets")})].map(targets, [object.spec.containers.map(c, c.name)].map(containerNames, ${ops.join(" + ")})[0])[0]`;
}

function namespaceSelector(config: PolicyConfig): Record<string, unknown> {
  const inject = config.namespaceSelection === NamespaceSelection.optIn
    ? { key: Label.inject, operator: "In", values: ["true"] }
    : { key: Label.inject, operator: "NotIn", values: ["false"] };
  const excluded = config.excludedNamespaces.length === 0 ? [] : [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...config.excludedNamespaces] }];
  return { matchExpressions: [...excluded, inject] };
}

export function injectionPolicy(config: PolicyConfig, cluster: ClusterSnapshot): InjectionPolicy {
  const facts: PolicyFacts = { ...cluster, defaults: config.defaults, maxGracePeriodSeconds: config.maxGracePeriodSeconds, hookSource: config.hookSource };
  const image = config.hookSource.kind === HookSourceKind.image ? config.hookSource.image : undefined;
  const labels = { "app.kubernetes.io/name": "lameduck", [Label.managedBy]: managedByValue };
  const policy = {
    apiVersion,
    kind: "MutatingAdmissionPolicy",
    metadata: { name: policyName, labels },
    spec: {
      // A pod is never blocked because of lameduck: an expression that fails leaves it unchanged.
      failurePolicy: "Ignore",
      // Containers a later webhook adds (service-mesh sidecars) get their preStop on reinvocation.
      reinvocationPolicy: "IfNeeded",
      matchConstraints: {
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"], scope: "Namespaced" }],
        matchPolicy: "Equivalent",
        namespaceSelector: namespaceSelector(config),
        objectSelector: { matchExpressions: [{ key: Label.inject, operator: "NotIn", values: ["false"] }] },
      },
      matchConditions: [
        { name: "not-a-mirror-pod", expression: "!has(object.metadata.annotations) || !('kubernetes.io/config.mirror' in object.metadata.annotations)" },
        { name: "pod-not-opted-out", expression: `!has(object.metadata.annotations) || !(${str(Annotation.inject)} in object.metadata.annotations) || object.metadata.annotations[${str(Annotation.inject)}] != 'false'` },
        { name: "not-too-many-containers", expression: tooManyContainers },
      ],
      variables: variables(facts),
      mutations: [{ patchType: "JSONPatch", jsonPatch: { expression: patchExpression(cluster.hookHash, image) } }],
    },
  };
  const binding = {
    apiVersion,
    kind: "MutatingAdmissionPolicyBinding",
    metadata: { name: policyName, labels },
    spec: { policyName },
  };
  return { policy, binding };
}
