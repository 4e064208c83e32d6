// Volume validation of pkg/apis/core/validation (ValidateVolumes, validateVolumeSource and the
// sources a webhook like lameduck writes: secret, configMap, downwardAPI, projected), in the real
// order: the source's errors, then the name's, then duplicates; a volume with errors is not
// mountable. Other sources are checked for their presence only.
import type { Obj } from "./objects.ts";
import { isObj, num, obj, objs, str } from "./objects.ts";
import type { FieldError } from "./status.ts";
import { goValue, isDNS1123Label, isLabelKey } from "./formats.ts";

// validateVolumeSource's order, with the path each "more than 1" error names (two are misspelt there).
const sources: readonly [string, string][] = [
  ["emptyDir", "emptyDir"], ["hostPath", "hostPath"], ["gitRepo", "gitRepo"], ["gcePersistentDisk", "gcePersistentDisk"],
  ["awsElasticBlockStore", "awsElasticBlockStore"], ["secret", "secret"], ["nfs", "nfs"], ["iscsi", "iscsi"], ["glusterfs", "glusterfs"],
  ["flocker", "flocker"], ["persistentVolumeClaim", "persistentVolumeClaim"], ["rbd", "rbd"], ["cinder", "cinder"], ["cephfs", "cephFS"],
  ["quobyte", "quobyte"], ["downwardAPI", "downwarAPI"], ["fc", "fc"], ["flexVolume", "flexVolume"], ["configMap", "configMap"],
  ["azureFile", "azureFile"], ["vsphereVolume", "vsphereVolume"], ["photonPersistentDisk", "photonPersistentDisk"],
  ["portworxVolume", "portworxVolume"], ["azureDisk", "azureDisk"], ["storageos", "storageos"], ["projected", "projected"],
  ["scaleIO", "scaleIO"], ["csi", "csi"], ["ephemeral", "ephemeral"], ["image", "image"],
];
const fileModeError = "must be a number between 0 and 0777 (octal), both inclusive";
const downwardFields = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];

export const invalid = (field: string, value: string | number | boolean | null | undefined, why: string): FieldError =>
  ({ type: "FieldValueInvalid", field, detail: `Invalid value: ${goValue(value)}: ${why}` });
export const required = (field: string, why = ""): FieldError => ({ type: "FieldValueRequired", field, detail: why === "" ? "Required value" : `Required value: ${why}` });
export const forbidden = (field: string, why: string): FieldError => ({ type: "FieldValueForbidden", field, detail: `Forbidden: ${why}` });

function mode(field: string, value: unknown): FieldError[] {
  const m = num(value);
  return m !== undefined && (m < 0 || m > 0o777) ? [invalid(field, m, fileModeError)] : [];
}

/** validateLocalNonReservedPath: relative, no `..` element, not starting with `..`. */
export function localPath(field: string, path: string): FieldError[] {
  const errors: FieldError[] = [];
  if (path.startsWith("/")) errors.push(invalid(field, path, "must be a relative path"));
  if (path.split("/").includes("..")) errors.push(invalid(field, path, "must not contain '..'"));
  if (path.startsWith("..") && !path.startsWith("../")) errors.push(invalid(field, path, "must not start with '..'"));
  return errors;
}

function keyToPath(field: string, item: Obj): FieldError[] {
  const path = str(item["path"]) ?? "";
  return [
    ...((str(item["key"]) ?? "") === "" ? [required(`${field}.key`)] : []),
    ...(path === "" ? [required(`${field}.path`)] : []),
    ...localPath(`${field}.path`, path),
    ...mode(`${field}.mode`, item["mode"]),
  ];
}

// ConvertDownwardAPIFieldLabel's labels (pkg/apis/core/pods/helpers.go); a volume may carry only the
// first five of them (validVolumeDownwardAPIFieldPathExpressions).
const convertibleFields = [...downwardFields, "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName",
  "status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"];

/** fieldpath.SplitMaybeSubscriptedPath: `metadata.labels['k']` is the path and `k`. */
function subscripted(fieldPath: string): [string, string] | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const at = fieldPath.indexOf("['");
  return at <= 0 ? undefined : [fieldPath.slice(0, at), fieldPath.slice(at + 2, -2)];
}

/** validateObjectFieldSelector for a volume's downward API item. */
function fieldRefErrors(field: string, apiVersion: string, fieldPath: string): FieldError[] {
  if (apiVersion === "") return [required(`${field}.apiVersion`)];
  if (fieldPath === "") return [required(`${field}.fieldPath`)];
  const sub = subscripted(fieldPath);
  const converting = (why: string): FieldError[] => [invalid(`${field}.fieldPath`, fieldPath, `error converting fieldPath: ${why}`)];
  if (apiVersion !== "v1") return converting(`unsupported pod version: ${apiVersion}`);
  if (sub !== undefined) {
    if (sub[0] !== "metadata.annotations" && sub[0] !== "metadata.labels") return converting(`field label does not support subscript: ${fieldPath}`);
    // Annotation keys are compared case-insensitively.
    return isLabelKey(sub[0] === "metadata.annotations" ? sub[1].toLowerCase() : sub[1]).map((m) => invalid(field, sub[1], m));
  }
  const path = fieldPath === "spec.host" ? "spec.nodeName" : fieldPath;
  if (!convertibleFields.includes(path)) return converting(`field label not supported: ${fieldPath}`);
  if (downwardFields.includes(path)) return [];
  return [{ type: "FieldValueNotSupported", field: `${field}.fieldPath`, detail: `Unsupported value: ${goValue(path)}: supported values: ${downwardFields.map((f) => goValue(f)).join(", ")}` }];
}

/** A downward API file; errors name the source, not the item (as the real validator does). */
function downwardFile(field: string, file: Obj): FieldError[] {
  const path = str(file["path"]) ?? "";
  const errors: FieldError[] = [...(path === "" ? [required(`${field}.path`)] : []), ...localPath(`${field}.path`, path)];
  const ref = file["fieldRef"];
  if (isObj(ref)) {
    errors.push(...fieldRefErrors(`${field}.fieldRef`, str(ref["apiVersion"]) ?? "", str(ref["fieldPath"]) ?? ""));
    if (file["resourceFieldRef"] !== undefined) errors.push(invalid(field, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"));
  } else if (file["resourceFieldRef"] === undefined) {
    errors.push(required(field, "one of fieldRef and resourceFieldRef is required"));
  }
  return [...errors, ...mode(`${field}.mode`, file["mode"])];
}

function projected(field: string, p: Obj): FieldError[] {
  const errors = mode(`${field}.defaultMode`, p["defaultMode"]);
  const paths = new Set<string>();
  // A path already used by an earlier source: reported against the projection, with the source's name.
  const claim = (path: string, shown: string): void => {
    if (path === "") return;
    if (paths.has(path)) errors.push(invalid(field, shown, "conflicting duplicate paths"));
    paths.add(path);
  };
  objs(p["sources"]).forEach((source, i) => {
    const src = `${field}.sources[${String(i)}]`;
    let kinds = 0;
    for (const kind of ["secret", "configMap"]) {
      const s = source[kind];
      if (!isObj(s)) continue;
      kinds++;
      if ((str(s["name"]) ?? "") === "") errors.push(required(`${src}.${kind}.name`));
      objs(s["items"]).forEach((item, j) => {
        errors.push(...keyToPath(`${src}.${kind}.items[${String(j)}]`, item));
        claim(str(item["path"]) ?? "", str(s["name"]) ?? "");
      });
    }
    const downward = source["downwardAPI"];
    if (isObj(downward)) {
      kinds++;
      for (const file of objs(downward["items"])) {
        errors.push(...downwardFile(`${src}.downwardAPI`, file));
        claim(str(file["path"]) ?? "", str(file["path"]) ?? "");
      }
    }
    const token = source["serviceAccountToken"];
    if (isObj(token)) {
      kinds++;
      const seconds = num(token["expirationSeconds"]) ?? 0;
      if (seconds < 600) errors.push(invalid(`${src}.serviceAccountToken.expirationSeconds`, seconds, "may not specify a duration less than 10 minutes"));
      if (seconds > 2 ** 32) errors.push(invalid(`${src}.serviceAccountToken.expirationSeconds`, seconds, "may not specify a duration larger than 2^32 seconds"));
      const path = str(token["path"]) ?? "";
      errors.push(...(path === "" ? [required(`${field}.path`)] : localPath(`${field}.path`, path)));
    }
    if (isObj(source["clusterTrustBundle"])) kinds++;
    if (kinds > 1) errors.push(forbidden(src, "may not specify more than 1 volume type per source"));
  });
  return errors;
}

const pullPolicies = ["Always", "IfNotPresent", "Never"];

/** validateImageVolumeSource: a pod's image volume names its image; a pull policy, if set, is one of the three. */
function imageErrors(at: string, s: Obj): FieldError[] {
  const errors = (str(s["reference"]) ?? "") === "" ? [required(`${at}.reference`)] : [];
  const policy = str(s["pullPolicy"]) ?? "";
  if (s["pullPolicy"] !== undefined && !pullPolicies.includes(policy)) {
    errors.push({ type: "FieldValueNotSupported", field: `${at}.pullPolicy`, detail: `Unsupported value: ${goValue(policy)}: supported values: ${pullPolicies.map((p) => goValue(p)).join(", ")}` });
  }
  return errors;
}

function ownErrors(kind: string, s: Obj, at: string): FieldError[] {
  switch (kind) {
    case "secret":
    case "configMap": {
      const nameKey = kind === "secret" ? "secretName" : "name";
      return [...((str(s[nameKey]) ?? "") === "" ? [required(`${at}.${nameKey}`)] : []), ...mode(`${at}.defaultMode`, s["defaultMode"]),
        ...objs(s["items"]).flatMap((item, j) => keyToPath(`${at}.items[${String(j)}]`, item))];
    }
    case "downwardAPI":
      return [...mode(`${at}.defaultMode`, s["defaultMode"]), ...objs(s["items"]).flatMap((file) => downwardFile(at, file))];
    case "projected":
      return projected(at, s);
    case "hostPath":
      return (str(s["path"]) ?? "") === "" ? [required(`${at}.path`)] : [];
    case "image":
      return imageErrors(at, s);
    default:
      return [];
  }
}

/** The first source present is validated; every further one is an error of its own. */
function sourceErrors(v: Obj, path: string): FieldError[] {
  const present = sources.filter(([key]) => v[key] !== undefined && v[key] !== null);
  const first = present[0];
  if (first === undefined) return [required(path, "must specify a volume type")];
  return [...ownErrors(first[0], obj(v[first[0]]), `${path}.${first[0]}`),
    ...present.slice(1).map(([, shown]) => forbidden(`${path}.${shown}`, "may not specify more than 1 volume type"))];
}

/** The volumes' errors, and the volumes a container may mount (only those without errors). */
export function validateVolumes(volumes: Obj[]): { errors: FieldError[]; mountable: Map<string, Obj> } {
  const errors: FieldError[] = [];
  const mountable = new Map<string, Obj>();
  volumes.forEach((v, i) => {
    const path = `spec.volumes[${String(i)}]`;
    const name = str(v["name"]) ?? "";
    const el = sourceErrors(v, path);
    if (name === "") el.push(required(`${path}.name`));
    else el.push(...isDNS1123Label(name).map((m) => invalid(`${path}.name`, name, m)));
    if (mountable.has(name)) el.push({ type: "FieldValueDuplicate", field: `${path}.name`, detail: `Duplicate value: ${goValue(name)}` });
    if (el.length === 0) mountable.set(name, v);
    errors.push(...el);
  });
  return { errors, mountable };
}
