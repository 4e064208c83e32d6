// The parts of pod validation (pkg/apis/core/validation) that a mutating webhook like lameduck can
// break, with the real messages: volume and mount names, mount paths, lifecycle handlers (exactly
// one type; sleep within the grace period), file modes, the grace period itself, container names.
import type { Obj } from "./objects.ts";
import { isObj, num, obj, objs, str } from "./objects.ts";
import type { FieldError } from "./status.ts";

const volumeTypes = ["hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
  "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc", "azureFile",
  "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
  "storageos", "csi", "ephemeral", "image"];
const handlerTypes = ["exec", "httpGet", "tcpSocket", "sleep"] as const;
const maxMode = 0o777;

const invalidValue = (field: string, value: unknown, why: string): FieldError => ({ type: "FieldValueInvalid", field, detail: `Invalid value: ${typeof value === "string" ? JSON.stringify(value) : String(value)}: ${why}` });

function modeErrors(field: string, mode: unknown): FieldError[] {
  const m = num(mode);
  if (m === undefined || (m >= 0 && m <= maxMode)) return [];
  return [invalidValue(field, m, "must be a number between 0 and 0777 (octal), both inclusive")];
}

function volumeErrors(volumes: Obj[]): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  volumes.forEach((v, i) => {
    const path = `spec.volumes[${i}]`;
    const name = str(v["name"]) ?? "";
    if (name === "") errors.push({ type: "FieldValueRequired", field: `${path}.name`, detail: "Required value" });
    else if (seen.has(name)) errors.push({ type: "FieldValueDuplicate", field: `${path}.name`, detail: `Duplicate value: ${JSON.stringify(name)}` });
    seen.add(name);
    const types = volumeTypes.filter((t) => v[t] !== undefined);
    if (types.length === 0) errors.push({ type: "FieldValueRequired", field: path, detail: "Required value: must specify a volume type" });
    for (const extra of types.slice(1)) errors.push({ type: "FieldValueForbidden", field: `${path}.${extra}`, detail: "Forbidden: may not specify more than 1 volume type" });
    for (const t of ["secret", "configMap", "downwardAPI"]) errors.push(...modeErrors(`${path}.${t}.defaultMode`, obj(v[t])["defaultMode"]));
    if (isObj(v["projected"])) {
      errors.push(...modeErrors(`${path}.projected.defaultMode`, v["projected"]["defaultMode"]));
      objs(v["projected"]["sources"]).forEach((src, j) => {
        for (const t of ["secret", "configMap", "downwardAPI"]) {
          objs(obj(src[t])["items"]).forEach((item, k) => {
            errors.push(...modeErrors(`${path}.projected.sources[${j}].${t}.items[${k}].mode`, item["mode"]));
          });
        }
      });
    }
    for (const t of ["secret", "configMap", "downwardAPI"]) {
      objs(obj(v[t])["items"]).forEach((item, k) => errors.push(...modeErrors(`${path}.${t}.items[${k}].mode`, item["mode"])));
    }
  });
  return errors;
}

function handlerErrors(handler: unknown, path: string, grace: number | undefined): FieldError[] {
  const h = obj(handler);
  const present = handlerTypes.filter((t) => h[t] !== undefined && h[t] !== null);
  const errors: FieldError[] = [];
  if (present.length === 0) return [{ type: "FieldValueRequired", field: path, detail: "Required value: must specify a handler type" }];
  for (const extra of present.slice(1)) errors.push({ type: "FieldValueForbidden", field: `${path}.${extra}`, detail: "Forbidden: may not specify more than 1 handler type" });
  const first = present[0];
  if (first === "exec" && objs([h["exec"]]).every((e) => !Array.isArray(e["command"]) || e["command"].length === 0)) {
    errors.push({ type: "FieldValueRequired", field: `${path}.exec.command`, detail: "Required value" });
  }
  if (first === "sleep") {
    const seconds = num(obj(h["sleep"])["seconds"]) ?? 0;
    // The zero value is allowed since PodLifecycleSleepActionAllowZero (GA in 1.34).
    if (grace !== undefined && (seconds < 0 || seconds > grace)) {
      errors.push(invalidValue(`${path}.sleep.seconds`, seconds, `must be non-negative and less than terminationGracePeriodSeconds (${grace})`));
    }
  }
  return errors;
}

function containerErrors(containers: Obj[], kind: string, volumes: Set<string>, names: Set<string>, grace: number | undefined): FieldError[] {
  const errors: FieldError[] = [];
  containers.forEach((c, i) => {
    const path = `spec.${kind}[${i}]`;
    const name = str(c["name"]) ?? "";
    if (name === "") errors.push({ type: "FieldValueRequired", field: `${path}.name`, detail: "Required value" });
    else if (names.has(name)) errors.push({ type: "FieldValueDuplicate", field: `${path}.name`, detail: `Duplicate value: ${JSON.stringify(name)}` });
    names.add(name);
    if ((str(c["image"]) ?? "") === "") errors.push({ type: "FieldValueRequired", field: `${path}.image`, detail: "Required value" });
    const paths = new Set<string>();
    objs(c["volumeMounts"]).forEach((m, j) => {
      const mountName = str(m["name"]) ?? "";
      if (!volumes.has(mountName)) errors.push({ type: "FieldValueNotFound", field: `${path}.volumeMounts[${j}].name`, detail: `Not found: ${JSON.stringify(mountName)}` });
      const mountPath = str(m["mountPath"]) ?? "";
      if (mountPath === "") errors.push({ type: "FieldValueRequired", field: `${path}.volumeMounts[${j}].mountPath`, detail: "Required value" });
      else if (paths.has(mountPath)) errors.push(invalidValue(`${path}.volumeMounts[${j}].mountPath`, mountPath, "must be unique"));
      paths.add(mountPath);
    });
    const lifecycle = c["lifecycle"];
    if (isObj(lifecycle)) {
      for (const hook of ["postStart", "preStop"]) {
        if (lifecycle[hook] !== undefined) errors.push(...handlerErrors(lifecycle[hook], `${path}.lifecycle.${hook}`, grace));
      }
    }
  });
  return errors;
}

export function validatePod(pod: Obj): FieldError[] {
  const spec = obj(pod["spec"]);
  const errors: FieldError[] = [];
  const grace = num(spec["terminationGracePeriodSeconds"]);
  if (grace !== undefined && grace < 0) errors.push(invalidValue("spec.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0"));
  const volumes = objs(spec["volumes"]);
  errors.push(...volumeErrors(volumes));
  const volumeNames = new Set(volumes.map((v) => str(v["name"]) ?? ""));
  const names = new Set<string>();
  const containers = objs(spec["containers"]);
  if (containers.length === 0) errors.push({ type: "FieldValueRequired", field: "spec.containers", detail: "Required value" });
  errors.push(...containerErrors(objs(spec["initContainers"]), "initContainers", volumeNames, names, grace));
  errors.push(...containerErrors(containers, "containers", volumeNames, names, grace));
  return errors;
}
