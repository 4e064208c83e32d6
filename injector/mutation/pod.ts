// The parts of a Pod's wire JSON that lameduck reads or writes. The admission path works on the raw
// request object (a typed client-node round-trip renames `exec` to `_exec` and drops fields it does
// not know), so these are views on plain JSON: every field optional, everything else kept as it was.

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  nodeSelector?: Record<string, string>;
  os?: { name?: string };
  affinity?: unknown;
}

export interface Container {
  name: string;
  lifecycle?: Lifecycle;
  volumeMounts?: VolumeMount[];
}

export interface Lifecycle {
  preStop?: LifecycleHandler;
  postStart?: LifecycleHandler;
}

export interface LifecycleHandler {
  exec?: { command?: string[] };
  sleep?: { seconds?: number };
  httpGet?: unknown;
  tcpSocket?: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

export interface Volume {
  name: string;
  projected?: {
    sources?: VolumeProjection[];
    defaultMode?: number;
  };
  downwardAPI?: DownwardAPIVolume;
  /** An OCI image mounted read-only (KEP-4639). */
  image?: { reference?: string; pullPolicy?: string };
}

export interface DownwardAPIVolume {
  items?: { path: string; fieldRef?: { fieldPath: string; apiVersion?: string }; mode?: number }[];
  defaultMode?: number;
}

export interface VolumeProjection {
  configMap?: { name?: string; optional?: boolean; items?: KeyToPath[] };
  downwardAPI?: DownwardAPIVolume;
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

/** Default terminationGracePeriodSeconds of the API (pkg/apis/core/v1/defaults.go). */
export const defaultGracePeriodSeconds = 30;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return `${field} is not an object`;
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") return `${field}["${key}"] is not a string`;
  }
  return undefined;
}

function containerList(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return `${field} is not a list`;
  for (const [i, c] of value.entries()) {
    const at = `${field}[${i}]`;
    if (!isObject(c)) return `${at} is not an object`;
    if (typeof c["name"] !== "string") return `${at}.name is not a string`;
    const lifecycle = c["lifecycle"];
    if (lifecycle !== undefined) {
      if (!isObject(lifecycle)) return `${at}.lifecycle is not an object`;
      for (const hook of ["preStop", "postStart"]) {
        const handler = lifecycle[hook];
        if (handler !== undefined && !isObject(handler)) return `${at}.lifecycle.${hook} is not an object`;
      }
    }
    const mounts = c["volumeMounts"];
    if (mounts !== undefined) {
      if (!Array.isArray(mounts)) return `${at}.volumeMounts is not a list`;
      for (const [j, m] of mounts.entries()) {
        if (!isObject(m) || typeof m["name"] !== "string" || typeof m["mountPath"] !== "string") {
          return `${at}.volumeMounts[${j}] has no name or mountPath`;
        }
      }
    }
  }
  return undefined;
}

/**
 * Why `raw` cannot be read as a Pod (naming the field), or undefined when every field lameduck
 * touches has the type the API gives it. The API server decodes the object before calling webhooks,
 * so a real review always passes; this keeps malformed reviews from reaching the mutation.
 */
export function podShapeProblem(raw: unknown): string | undefined {
  if (!isObject(raw)) return "object is not a JSON object";
  const metadata = raw["metadata"];
  if (metadata !== undefined) {
    if (!isObject(metadata)) return "metadata is not an object";
    for (const key of ["name", "generateName", "namespace"]) {
      if (metadata[key] !== undefined && typeof metadata[key] !== "string") return `metadata.${key} is not a string`;
    }
    const problem = stringMap(metadata["labels"], "metadata.labels") ?? stringMap(metadata["annotations"], "metadata.annotations");
    if (problem !== undefined) return problem;
  }
  const spec = raw["spec"];
  if (!isObject(spec)) return "spec is not an object";
  const problem =
    containerList(spec["containers"], "spec.containers") ??
    containerList(spec["initContainers"], "spec.initContainers") ??
    containerList(spec["ephemeralContainers"], "spec.ephemeralContainers") ??
    stringMap(spec["nodeSelector"], "spec.nodeSelector");
  if (problem !== undefined) return problem;
  const volumes = spec["volumes"];
  if (volumes !== undefined) {
    if (!Array.isArray(volumes)) return "spec.volumes is not a list";
    for (const [i, v] of volumes.entries()) {
      if (!isObject(v) || typeof v["name"] !== "string") return `spec.volumes[${i}].name is not a string`;
      for (const source of ["projected", "downwardAPI", "image"]) {
        if (v[source] !== undefined && !isObject(v[source])) return `spec.volumes[${i}].${source} is not an object`;
      }
    }
  }
  const grace = spec["terminationGracePeriodSeconds"];
  if (grace !== undefined && !Number.isSafeInteger(grace)) return "spec.terminationGracePeriodSeconds is not an integer";
  if (spec["hostNetwork"] !== undefined && typeof spec["hostNetwork"] !== "boolean") return "spec.hostNetwork is not a boolean";
  if (spec["os"] !== undefined && !isObject(spec["os"])) return "spec.os is not an object";
  return undefined;
}

/** `raw` as a Pod view when its shape allows, else the problem. */
export function readPod(raw: unknown): { ok: true; pod: Pod } | { ok: false; problem: string } {
  const problem = podShapeProblem(raw);
  return problem === undefined ? { ok: true, pod: raw as Pod } : { ok: false, problem };
}

/** What a log line calls a pod: its name, else its generateName (a Deployment's pods have no name yet). */
export function podDisplayName(pod: Pod): string {
  const meta = pod.metadata;
  if (meta?.name !== undefined && meta.name !== "") return meta.name;
  if (meta?.generateName !== undefined && meta.generateName !== "") return `${meta.generateName}*`;
  return "<unnamed>";
}

export { isObject };
