// The webhook's decision (injector/mutation/decide.ts and policy.ts) as CEL variables of a
// MutatingAdmissionPolicy. Only standard CEL, the strings extension, the Kubernetes list library's
// indexOf and jsonpatch.escapeKey are used: no optionals and no two-variable comprehensions, so the
// fake API server's evaluator (@bufbuild/cel) runs exactly what a real 1.36 server runs. CEL has no
// `let`, so `[x].map(v, …)[0]` binds an intermediate value where one is needed twice.
import { HookSourceKind, Mode, type Defaults, type HookSource } from "../config.ts";
import { defaultGracePeriodSeconds } from "../mutation/pod.ts";
import { defaultMountPath, defaultVolumeName, podinfoMountPath, podinfoVolumeName } from "../mutation/volume.ts";
import { Annotation, HookKey, hookConfigMapName } from "../names.ts";

/** A CEL string literal (JSON's escapes are CEL's). */
export const str = (s: string): string => JSON.stringify(s);
const list = (items: readonly string[]): string => `[${items.map(str).join(", ")}]`;
const v = (name: string): string => `variables.${name}`;

/** The free-name search of volume.ts, bounded the same way. */
const maxSuffix = 100;
const candidates = (base: string): string[] => Array.from({ length: maxSuffix + 1 }, (_, i) => (i === 0 ? base : `${base}-${String(i)}`));

/** What the generator bakes into the policy: the controller rewrites the policy when it changes. */
export interface PolicyFacts {
  readonly defaults: Defaults;
  readonly maxGracePeriodSeconds: number;
  /** HOST:PORT of the oracle; undefined → every pod gets the native sleep. */
  readonly oracleAddress: string | undefined;
  /** The cluster's node architectures (an unpinned pod gets a hook only when there is one). */
  readonly architectures: readonly string[];
  /** The hook version the distributor keeps in every namespace; undefined → native sleep. */
  readonly hookHash: string | undefined;
  /** --hook-source: with the image, no ConfigMap, hash or architecture is needed. */
  readonly hookSource: HookSource;
}

export interface Variable {
  readonly name: string;
  readonly expression: string;
}

/** CEL for the duration text parser of injector/duration.ts, applied to a trimmed string `t`. */
function durationMs(t: string): string {
  const unitLength = `(${t}.endsWith('ms') ? 2 : (${t}.endsWith('s') || ${t}.endsWith('m') || ${t}.endsWith('h')) ? 1 : 0)`;
  const factor = `(${t}.endsWith('ms') ? 1 : ${t}.endsWith('m') ? 60000 : ${t}.endsWith('h') ? 3600000 : 1000)`;
  return `int(${t}.substring(0, size(${t}) - ${unitLength})) * ${factor}`;
}

/** The first valid value of `key` in the pod's annotations, the namespace's labels, then its annotations. */
function durationSetting(key: string, fallbackMs: number): string {
  const values = `${v("sources")}.filter(s, ${str(key)} in s).map(s, s[${str(key)}].trim()).filter(t, t.matches('^[0-9]{1,9}(ms|s|m|h)?$')).map(t, ${durationMs("t")}).filter(ms, ms <= 86400000)`;
  return `[${values}].map(l, size(l) > 0 ? l[0] : ${String(fallbackMs)})[0]`;
}

const renderDuration = (ms: string): string => `(${ms} % 1000 == 0 ? string(${ms} / 1000) + 's' : string(${ms}) + 'ms')`;

function pinnedArchExpression(): string {
  const archKey = str("kubernetes.io/arch");
  const nodeSelector = `has(object.spec.nodeSelector) && ${archKey} in object.spec.nodeSelector`;
  const required = "object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
  const hasTerms = `has(object.spec.affinity) && has(object.spec.affinity.nodeAffinity) && has(${required}) && has(${required}.nodeSelectorTerms)`;
  // One term's single architecture ('' when it allows several or does not say): the values of its
  // `In` expressions on the arch key intersected (expressions in a term are ANDed), see arch.ts.
  const valueLists = `(has(t.matchExpressions) ? t.matchExpressions : []).filter(e, e.key == ${archKey} && e.operator == 'In').map(e, has(e.values) ? e.values : [])`;
  const termArch = `[${valueLists}].map(l, size(l) == 0 ? '' : [l[0].filter(a, l.all(vs, a in vs))].map(c, size(c) > 0 && c.all(a, a == c[0]) ? c[0] : '')[0])[0]`;
  // Terms are ORed: pinned only when every term pins the same architecture.
  const fromAffinity = `[${required}.nodeSelectorTerms.map(t, ${termArch})].map(archs, size(archs) > 0 && archs.all(a, a != '' && a == archs[0]) ? [archs[0]] : [])[0]`;
  return `${nodeSelector} ? [object.spec.nodeSelector[${archKey}]] : (${hasTerms}) ? ${fromAffinity} : []`;
}

/** Whether a container mounts something at `path` (a path without a trailing slash), as volume.ts normalises mount paths. */
function mountTaken(path: string): string {
  return `${v("allContainers")}.exists(c, has(c.volumeMounts) && c.volumeMounts.exists(m, m.mountPath == ${path} || (m.mountPath.startsWith(${path} + '/') && m.mountPath.substring(size(${path})).matches('^/+$'))))`;
}

/** The free-name search of volume.ts: the default name is nearly always free, tested alone first. */
function freeVolumeName(base: string): string {
  return `[has(object.spec.volumes) ? object.spec.volumes.map(vol, vol.name) : []].map(taken, !(${str(base)} in taken) ? [${str(base)}] : ${list(candidates(base))}.filter(n, !(n in taken)))[0]`;
}

function freeMountPath(base: string): string {
  return `!${mountTaken(str(base))} ? [${str(base)}] : ${list(candidates(base))}.filter(p, !${mountTaken("p")})`;
}

/** The first mount path of a volume `vol` some container mounts (containers, init, ephemeral, in order). */
const mountsOf = (volume: string): string => `${v("allContainers")}.filter(c, has(c.volumeMounts) && c.volumeMounts.exists(m, m.name == ${volume}.name))`;
const firstMountPath = (volume: string): string => `${mountsOf(volume)}[0].volumeMounts.filter(m, m.name == ${volume}.name)[0].mountPath`;

/**
 * The image and podinfo volumes an earlier pass added (volume.ts, findHookVolume): the first mounted
 * image volume of exactly the hook image and the first mounted podinfo volume, both or neither.
 * Three variables: a list of lists trips @bufbuild/cel (the fake's evaluator).
 */
function existingImageVolume(image: string): Variable[] {
  const isImage = `has(vol.image) && has(vol.image.reference) && vol.image.reference == ${str(image)} && size(${mountsOf("vol")}) > 0`;
  const isPodinfo = `vol.name.startsWith(${str(podinfoVolumeName)}) && has(vol.downwardAPI) && has(vol.downwardAPI.items) && vol.downwardAPI.items.exists(i, i.path == 'pod/uid' && has(i.fieldRef) && i.fieldRef.fieldPath == 'metadata.uid') && size(${mountsOf("vol")}) > 0`;
  const found = (test: string): string => `${v("marked")} && has(object.spec.volumes) ? object.spec.volumes.filter(vol, ${test}).map(vol, {'name': vol.name, 'mountPath': ${firstMountPath("vol")}}) : []`;
  const [img, info] = [v("existingImage"), v("existingPodinfo")];
  return [
    { name: "existingImage", expression: found(isImage) },
    { name: "existingPodinfo", expression: found(isPodinfo) },
    { name: "existingVolume", expression: `size(${img}) > 0 && size(${info}) > 0 ? [{'name': ${img}[0].name, 'mountPath': ${img}[0].mountPath, 'podinfoName': ${info}[0].name, 'podinfoPath': ${info}[0].mountPath}] : []` },
  ];
}

/** The policy's variables, in evaluation order (each may use the ones before it). */
export function variables(f: PolicyFacts): Variable[] {
  const d = f.defaults;
  const annotations = "(has(object.metadata.annotations) ? object.metadata.annotations : {})";
  const nsField = (field: string): string => `(namespaceObject != null && has(namespaceObject.metadata.${field}) ? namespaceObject.metadata.${field} : {})`;
  const clusterArch = f.architectures.length === 1 ? list(f.architectures) : "[]";
  const hookKeys = Object.entries(HookKey);
  const allContainers = ["containers", "initContainers", "ephemeralContainers"].map((k) => `(has(object.spec.${k}) ? object.spec.${k} : [])`).join(" + ");
  const isHookVolume = `has(vol.projected) && has(vol.projected.sources) && vol.projected.sources.exists(s, has(s.configMap) && has(s.configMap.name) && s.configMap.name.startsWith(${str(hookConfigMapName(""))}) && has(s.configMap.items) && s.configMap.items.exists(i, i.key in ${list(Object.values(HookKey))} && i.path == 'hook')) && size(${mountsOf("vol")}) > 0`;
  const original = `(has(object.spec.terminationGracePeriodSeconds) ? object.spec.terminationGracePeriodSeconds : ${String(defaultGracePeriodSeconds)})`;
  const native = v("handler") + " == 'native-sleep'";
  const hookSeconds = `(${native} ? (${v("sleepMs")} + 999) / 1000 : (${v("maxMs")} + 999) / 1000)`;
  const extended = `[${v("original")} + ${hookSeconds}].map(x, x < ${String(f.maxGracePeriodSeconds)} ? x : ${String(f.maxGracePeriodSeconds)}).map(x, x > ${v("original")} ? x : ${v("original")})[0]`;
  const hostNetwork = "(has(object.spec.hostNetwork) && object.spec.hostNetwork)";
  // On hostNetwork neither the quiet phase nor the drain phase (decide.ts, waitArgs).
  const quietMs = `(${hostNetwork} ? 0 : ${v("quietMs")})`;
  const oracle = f.oracleAddress ?? "";
  const image = f.hookSource.kind === HookSourceKind.image ? f.hookSource.image : undefined;
  // The webhook names a new volume's ConfigMap after the hook version; reusing one needs no version.
  const cannotAdd = image === undefined && f.hookHash === undefined ? "true || " : "";
  /** The volume variable's fields, and the variables holding a new volume's free values for them. */
  const placeFields: readonly (readonly [string, string])[] = [["name", "volumeName"], ["mountPath", "mountPath"], ...(image === undefined ? [] : [["podinfoName", "podinfoName"], ["podinfoPath", "podinfoPath"]] as const)];
  // With the image, only a pod pinned to an architecture the image lacks (decide.ts, chooseImageVolume).
  const noHook = image === undefined ? `${v("hookKey")} == ''` : `(size(${v("pinnedArch")}) > 0 && !(${v("pinnedArch")}[0] in ${list(Object.keys(HookKey))}))`;
  const cannotPlace = [noHook, ...placeFields.map(([, free]) => `size(${v(free)}) == 0`)].join(" || ");
  return [
    { name: "annotations", expression: annotations },
    { name: "marked", expression: `${str(Annotation.injected)} in ${v("annotations")}` },
    { name: "sources", expression: `[${v("annotations")}, ${nsField("labels")}, ${nsField("annotations")}]` },
    { name: "mode", expression: `[${v("sources")}.filter(s, ${str(Annotation.mode)} in s && s[${str(Annotation.mode)}] in ${list(Object.values(Mode))}).map(s, s[${str(Annotation.mode)}])].map(l, size(l) > 0 ? l[0] : ${str(d.mode)})[0]` },
    { name: "maxMs", expression: durationSetting(Annotation.max, d.maxMs) },
    { name: "settleMs", expression: durationSetting(Annotation.settle, d.settleMs) },
    { name: "quietMs", expression: durationSetting(Annotation.quiet, d.quietMs) },
    { name: "sleepMs", expression: durationSetting(Annotation.sleep, d.sleepMs) },
    { name: "drain", expression: `[${v("sources")}.filter(s, ${str(Annotation.drain)} in s && s[${str(Annotation.drain)}] in ['true', 'false']).map(s, s[${str(Annotation.drain)}] == 'true')].map(l, size(l) > 0 ? l[0] : ${String(d.drain)})[0]` },
    { name: "targets", expression: "object.spec.containers.filter(c, !has(c.lifecycle) || !has(c.lifecycle.preStop)).map(c, c.name)" },
    { name: "allContainers", expression: allContainers },
    ...(image !== undefined ? existingImageVolume(image) : [
      { name: "existingVolume", expression: `${v("marked")} && has(object.spec.volumes) ? object.spec.volumes.filter(vol, ${isHookVolume}).map(vol, {'name': vol.name, 'mountPath': ${firstMountPath("vol")}}) : []` },
    ]),
    { name: "windows", expression: `(has(object.spec.os) && has(object.spec.os.name) && object.spec.os.name == 'windows') || (has(object.spec.nodeSelector) && 'kubernetes.io/os' in object.spec.nodeSelector && object.spec.nodeSelector['kubernetes.io/os'] == 'windows')` },
    { name: "pinnedArch", expression: pinnedArchExpression() },
    { name: "hookKey", expression: `[size(${v("pinnedArch")}) > 0 ? ${v("pinnedArch")} : ${clusterArch}].map(a, size(a) != 1 ? '' : ${hookKeys.map(([arch, key]) => `a[0] == ${str(arch)} ? ${str(key)} : `).join("")}'')[0]` },
    { name: "volumeName", expression: freeVolumeName(defaultVolumeName) },
    { name: "mountPath", expression: freeMountPath(defaultMountPath) },
    ...(image === undefined ? [] : [
      { name: "podinfoName", expression: freeVolumeName(podinfoVolumeName) },
      { name: "podinfoPath", expression: freeMountPath(podinfoMountPath) },
    ]),
    {
      // decide(): the drain wait through the hook when everything it needs is known, else the
      // native sleep (policy mode runs on 1.36+, which always serves it).
      name: "handler",
      // With the hook image no architecture or hook version is needed, only free names.
      expression: f.oracleAddress === undefined ? "'native-sleep'"
        : `${v("windows")} || ${v("mode")} == 'sleep' ? 'native-sleep' : size(${v("existingVolume")}) > 0 ? 'wait' : ${cannotAdd}${v("marked")} || ${cannotPlace} ? 'native-sleep' : 'wait'`,
    },
    { name: "newVolume", expression: `${v("handler")} == 'wait' && size(${v("existingVolume")}) == 0` },
    { name: "volume", expression: `${v("handler")} != 'wait' ? {${placeFields.map(([k]) => `'${k}': ''`).join(", ")}} : ${v("newVolume")} ? {${placeFields.map(([k, free]) => `'${k}': ${v(free)}[0]`).join(", ")}} : ${v("existingVolume")}[0]` },
    { name: "original", expression: original },
    { name: "grace", expression: `${v("marked")} ? ${v("original")} : ${extended}` },
    {
      name: "preStop",
      // dyn(): the two handlers are maps of different types, which a conditional may not mix.
      expression: `${v("handler")} == 'native-sleep' ? dyn({'sleep': {'seconds': [(${v("sleepMs")} + 999) / 1000].map(s, s < ${v("grace")} ? s : ${v("grace")})[0]}}) : dyn({'exec': {'command': [${v("volume")}.mountPath + '/hook', 'wait', ${str(`--oracle=${oracle}`)}, '--max=' + ${renderDuration(v("maxMs"))}, '--settle=' + ${renderDuration(v("settleMs"))}, '--quiet=' + ${renderDuration(quietMs)}, ${str(`--fallback=${formatLiteral(d.fallbackMs)}`)}] + (${v("drain")} && !${hostNetwork} ? ['--drain'] : [])${image === undefined ? "" : ` + ['--podinfo=' + ${v("volume")}.podinfoPath]`}}})`,
    },
  ];
}

function formatLiteral(ms: number): string {
  return ms % 1000 === 0 ? `${String(ms / 1000)}s` : `${String(ms)}ms`;
}

/**
 * The most containers (regular, init and ephemeral together) the policy injects; the webhook takes
 * up to maxContainers (1,000). The patch expression finds each target's index with indexOf, so its
 * cost grows with the square of the container count, and kube-apiserver stops any one expression at
 * a cost of 1,000,000 (celconfig.PerCallLimit): at 250 containers it stays far below. A larger pod
 * is not matched and is created unchanged.
 */
export const maxPolicyContainers = 250;

export const tooManyContainers = `size(object.spec.containers) + (has(object.spec.initContainers) ? size(object.spec.initContainers) : 0) + (has(object.spec.ephemeralContainers) ? size(object.spec.ephemeralContainers) : 0) <= ${String(maxPolicyContainers)}`;
