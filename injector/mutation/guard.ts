// The last check before answering. `failurePolicy: Ignore` does not protect against a bad patch: the
// API server fails open only when *calling* the webhook fails; a patch that does not apply or yields
// an invalid pod fails the pod's creation, for every controller in the cluster (verified on
// kube-apiserver v1.36.2, DESIGN.md "Facts verified"). So the patch is applied to the request object
// here and the result checked against every API validation rule lameduck's fields could break.
import jsonpatch, { type Operation } from "fast-json-patch";
import { copyAlongPaths } from "./patch-copy.ts";
import { defaultGracePeriodSeconds, isObject, podShapeProblem } from "./pod.ts";

export const GuardReason = {
  patchFailed: "patch-failed",
  podShape: "pod-shape",
  gracePeriod: "grace-period",
  handler: "handler",
  sleepSeconds: "sleep-seconds",
  volumeName: "volume-name",
  volumeItem: "volume-item",
  fileMode: "file-mode",
  mount: "mount",
  label: "label",
  annotation: "annotation",
} as const;
export type GuardReason = (typeof GuardReason)[keyof typeof GuardReason];

export interface Problem {
  readonly reason: GuardReason;
  readonly message: string;
}

// apimachinery validation: IsDNS1123Label, IsQualifiedName, IsValidLabelValue, and
// TotalAnnotationSizeLimitB (256 KiB over all keys and values).
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const annotationBudget = 256 * 1024;
const maxFileMode = 0o777;

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function record(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

export function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !dns1123Subdomain.test(prefix))) return false;
  return name.length <= 63 && qualifiedNamePart.test(name);
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && labelValue.test(value);
}

function handlerProblems(where: string, handler: unknown, grace: number): Problem[] {
  if (handler === undefined) return [];
  const h = record(handler);
  const kinds = ["exec", "httpGet", "tcpSocket", "sleep"].filter((k) => h[k] !== undefined);
  if (kinds.length !== 1) return [{ reason: GuardReason.handler, message: `${where} has ${kinds.length} handlers, must have exactly 1` }];
  if (h["exec"] !== undefined) {
    const command = record(h["exec"])["command"];
    if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === "string")) {
      return [{ reason: GuardReason.handler, message: `${where}.exec.command is not a non-empty list of strings` }];
    }
  }
  if (h["sleep"] !== undefined) {
    const s = record(h["sleep"])["seconds"];
    if (typeof s !== "number" || !Number.isSafeInteger(s) || s < 0 || s > grace) {
      return [{ reason: GuardReason.sleepSeconds, message: `${where}.sleep.seconds ${String(s)} is not within 0..${grace} (the grace period)` }];
    }
  }
  return [];
}

function modeProblem(where: string, mode: unknown): Problem[] {
  if (mode === undefined) return [];
  if (typeof mode !== "number" || !Number.isSafeInteger(mode) || mode < 0 || mode > maxFileMode) {
    return [{ reason: GuardReason.fileMode, message: `${where} ${JSON.stringify(mode)} is not a file mode within 0..0777` }];
  }
  return [];
}

function volumeProblems(volumes: unknown[]): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const [i, v] of volumes.entries()) {
    const volume = record(v);
    const name = volume["name"];
    const where = `spec.volumes[${i}]`;
    if (typeof name !== "string" || name.length > 63 || !dns1123Label.test(name)) {
      problems.push({ reason: GuardReason.volumeName, message: `${where}.name ${JSON.stringify(name)} is not a DNS-1123 label` });
    } else if (seen.has(name)) {
      problems.push({ reason: GuardReason.volumeName, message: `${where}.name "${name}" is not unique` });
    } else {
      seen.add(name);
    }
    if (volume["projected"] === undefined) continue;
    const projected = record(volume["projected"]);
    problems.push(...modeProblem(`${where}.projected.defaultMode`, projected["defaultMode"]));
    for (const [j, source] of list(projected["sources"]).entries()) {
      for (const [kind, value] of Object.entries(record(source))) {
        for (const [k, item] of list(record(value)["items"]).entries()) {
          const at = `${where}.projected.sources[${j}].${kind}.items[${k}]`;
          const path = record(item)["path"];
          if (typeof path !== "string" || path === "" || path.startsWith("/") || path.split("/").includes("..")) {
            problems.push({ reason: GuardReason.volumeItem, message: `${at}.path ${JSON.stringify(path)} is not a relative path` });
          }
          problems.push(...modeProblem(`${at}.mode`, record(item)["mode"]));
        }
      }
    }
  }
  return problems;
}

function containerProblems(field: string, containers: unknown[], volumeNames: ReadonlySet<string>, grace: number): Problem[] {
  const problems: Problem[] = [];
  for (const [i, c] of containers.entries()) {
    const container = record(c);
    const where = `${field}[${i}]`;
    const lifecycle = record(container["lifecycle"]);
    problems.push(...handlerProblems(`${where}.lifecycle.preStop`, lifecycle["preStop"], grace));
    problems.push(...handlerProblems(`${where}.lifecycle.postStart`, lifecycle["postStart"], grace));
    const paths = new Set<string>();
    for (const [j, m] of list(container["volumeMounts"]).entries()) {
      const mount = record(m);
      const at = `${where}.volumeMounts[${j}]`;
      const name = mount["name"];
      const path = mount["mountPath"];
      if (typeof name !== "string" || !volumeNames.has(name)) {
        problems.push({ reason: GuardReason.mount, message: `${at}.name ${JSON.stringify(name)} is not a volume of the pod` });
      }
      if (typeof path !== "string" || path === "") {
        problems.push({ reason: GuardReason.mount, message: `${at}.mountPath is empty` });
      } else if (paths.has(path)) {
        problems.push({ reason: GuardReason.mount, message: `${at}.mountPath "${path}" is not unique in the container` });
      } else {
        paths.add(path);
      }
    }
  }
  return problems;
}

function metadataProblems(metadata: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(record(metadata["labels"]))) {
    if (!isQualifiedName(key) || typeof value !== "string" || !isLabelValue(value)) {
      problems.push({ reason: GuardReason.label, message: `label ${key}=${JSON.stringify(value)} is not a valid label` });
    }
  }
  let size = 0;
  for (const [key, value] of Object.entries(record(metadata["annotations"]))) {
    if (!isQualifiedName(key)) problems.push({ reason: GuardReason.annotation, message: `annotation key ${JSON.stringify(key)} is not a qualified name` });
    size += key.length + (typeof value === "string" ? Buffer.byteLength(value) : 0);
  }
  if (size > annotationBudget) problems.push({ reason: GuardReason.annotation, message: `annotations total ${size} bytes, more than 256 KiB` });
  return problems;
}

/** Every way `pod` breaks an API validation rule that lameduck's fields touch. */
export function podProblems(pod: unknown): Problem[] {
  const shape = podShapeProblem(pod);
  if (shape !== undefined) return [{ reason: GuardReason.podShape, message: shape }];
  const p = record(pod);
  const spec = record(p["spec"]);
  const problems: Problem[] = [];
  const declared = spec["terminationGracePeriodSeconds"];
  if (typeof declared === "number" && declared < 0) {
    problems.push({ reason: GuardReason.gracePeriod, message: `spec.terminationGracePeriodSeconds ${declared} is negative` });
  }
  const grace = typeof declared === "number" ? declared : defaultGracePeriodSeconds;
  const volumes = list(spec["volumes"]);
  problems.push(...volumeProblems(volumes));
  const volumeNames = new Set(volumes.map((v) => record(v)["name"]).filter((n): n is string => typeof n === "string"));
  problems.push(...containerProblems("spec.containers", list(spec["containers"]), volumeNames, grace));
  problems.push(...containerProblems("spec.initContainers", list(spec["initContainers"]), volumeNames, grace));
  problems.push(...metadataProblems(record(p["metadata"])));
  return problems;
}

export type GuardResult = { readonly ok: true; readonly pod: unknown } | { readonly ok: false; readonly problems: readonly Problem[] };

/**
 * Applies `ops` to a copy of `before` as the API server would and reports the problems the patch
 * introduces. Problems the pod had already are not lameduck's: the API server rejects such a pod
 * with or without the patch.
 */
export function guardPatch(before: unknown, ops: readonly Operation[]): GuardResult {
  let after: unknown;
  try {
    // A validating apply to a copy: the request object stays as it came.
    const copy = copyAlongPaths(before, ops);
    after = copy === undefined ? jsonpatch.applyPatch(before, [...ops], true, false, true).newDocument : jsonpatch.applyPatch(copy, [...ops], true, true, true).newDocument;
  } catch (err) {
    return { ok: false, problems: [{ reason: GuardReason.patchFailed, message: `the patch does not apply: ${err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err)}` }] };
  }
  const identity = (o: unknown): string => `${String(record(o)["apiVersion"])} ${String(record(o)["kind"])}`;
  if (identity(after) !== identity(before)) return { ok: false, problems: [{ reason: GuardReason.patchFailed, message: "the patch changes apiVersion or kind" }] };
  const problems = podProblems(after);
  if (problems.length === 0) return { ok: true, pod: after };
  const existing = new Set(podProblems(before).map((p) => p.message));
  const introduced = problems.filter((p) => !existing.has(p.message));
  return introduced.length === 0 ? { ok: true, pod: after } : { ok: false, problems: introduced };
}
