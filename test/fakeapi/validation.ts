// Pod validation (pkg/apis/core/validation ValidatePodCreate) for what a mutating webhook like
// lameduck can break, in the real order: volumes (podvolumes.ts), containers, init containers;
// per container its name, image, mounts, then duplicate names, then lifecycle handlers (exactly one
// type; a sleep within the grace period). A negative grace period is not an error (the real server
// accepts it, recorded from v1.36.2). Probes, env, ports, resources and security contexts are not
// validated.
import type { Obj } from "./objects.ts";
import { isObj, num, obj, objs, str } from "./objects.ts";
import type { FieldError } from "./status.ts";
import { goValue, isDNS1123Label } from "./formats.ts";
import { forbidden, invalid, localPath, required, validateVolumes } from "./podvolumes.ts";

const handlerTypes = ["exec", "httpGet", "tcpSocket", "sleep"] as const;
const duplicate = (field: string, value: string): FieldError => ({ type: "FieldValueDuplicate", field, detail: `Duplicate value: ${goValue(value)}` });

function port(field: string, value: unknown): FieldError[] {
  if (typeof value === "number") return value >= 1 && value <= 65535 ? [] : [invalid(field, value, "must be between 1 and 65535, inclusive")];
  if (typeof value !== "string") return [];
  // IsValidPortName.
  const errs: string[] = [];
  if (value.length > 15) errs.push("must be no more than 15 characters");
  if (!/^[-a-z0-9]+$/.test(value)) errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!/[a-z]/.test(value)) errs.push("must contain at least one letter (a-z)");
  if (value.includes("--")) errs.push("must not contain consecutive hyphens");
  if (value.startsWith("-") || value.endsWith("-")) errs.push("must not begin or end with a hyphen");
  return errs.map((m) => invalid(field, value, m));
}

/** validateHandler: every type after the first is an error; the first is validated. */
function handlerErrors(handler: Obj, path: string, grace: number | undefined): FieldError[] {
  const present = handlerTypes.filter((t) => handler[t] !== undefined && handler[t] !== null);
  const first = present[0];
  if (first === undefined) return [required(path, "must specify a handler type")];
  const h = obj(handler[first]);
  const at = `${path}.${first}`;
  const errors: FieldError[] = [];
  if (first === "exec" && !(Array.isArray(h["command"]) && h["command"].length > 0)) errors.push(required(`${at}.command`));
  if (first === "httpGet") {
    if ((str(h["path"]) ?? "") === "") errors.push(required(`${at}.path`));
    errors.push(...port(`${at}.port`, h["port"]));
  }
  if (first === "tcpSocket") errors.push(...port(`${at}.port`, h["port"]));
  if (first === "sleep") {
    const seconds = num(h["seconds"]) ?? 0;
    // The path names the action, not its `seconds` (recorded from v1.36.2); zero is allowed since 1.34.
    if (grace !== undefined && (seconds < 0 || seconds > grace)) errors.push(invalid(at, seconds, `must be non-negative and less than terminationGracePeriodSeconds (${String(grace)})`));
  }
  return [...errors, ...present.slice(1).map((t) => forbidden(`${path}.${t}`, "may not specify more than 1 handler type"))];
}

function lifecycleErrors(lifecycle: Obj, path: string, grace: number | undefined): FieldError[] {
  return ["postStart", "preStop"].flatMap((hook) => (isObj(lifecycle[hook]) ? handlerErrors(lifecycle[hook], `${path}.${hook}`, grace) : []));
}

/** validateContainerCommon: name, image, volume mounts. */
function commonErrors(c: Obj, path: string, mountable: Map<string, Obj>): FieldError[] {
  const errors: FieldError[] = [];
  const name = str(c["name"]) ?? "";
  if (name === "") errors.push(required(`${path}.name`));
  else errors.push(...isDNS1123Label(name).map((m) => invalid(`${path}.name`, name, m)));
  if ((str(c["image"]) ?? "") === "") errors.push(required(`${path}.image`));
  const mountPaths = new Set<string>();
  objs(c["volumeMounts"]).forEach((m, j) => {
    const at = `${path}.volumeMounts[${String(j)}]`;
    const mountName = str(m["name"]) ?? "";
    const mountPath = str(m["mountPath"]) ?? "";
    if (mountName === "") errors.push(required(`${at}.name`));
    if (!mountable.has(mountName)) errors.push({ type: "FieldValueNotFound", field: `${at}.name`, detail: `Not found: ${goValue(mountName)}` });
    if (mountPath === "") errors.push(required(`${at}.mountPath`));
    if (mountPaths.has(mountPath)) errors.push(invalid(`${at}.mountPath`, mountPath, "must be unique"));
    mountPaths.add(mountPath);
    // The real validator names the list here, not the item.
    const subPath = str(m["subPath"]) ?? "";
    if (subPath !== "") errors.push(...localPath(`${path}.volumeMounts.subPath`, subPath));
  });
  return errors;
}

function containerErrors(containers: Obj[], mountable: Map<string, Obj>, grace: number | undefined): FieldError[] {
  if (containers.length === 0) return [required("spec.containers")];
  const errors: FieldError[] = [];
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const path = `spec.containers[${String(i)}]`;
    errors.push(...commonErrors(c, path, mountable));
    const name = str(c["name"]) ?? "";
    if (names.has(name)) errors.push(duplicate(`${path}.name`, name));
    names.add(name);
    if (isObj(c["lifecycle"])) errors.push(...lifecycleErrors(c["lifecycle"], `${path}.lifecycle`, grace));
    if (c["restartPolicy"] !== undefined) errors.push(forbidden(`${path}.restartPolicy`, "may not be set for non-init containers"));
  });
  return errors;
}

/** Init containers share the regular containers' names; only restartable ones (sidecars) may have a lifecycle. */
function initContainerErrors(inits: Obj[], regular: Obj[], mountable: Map<string, Obj>, grace: number | undefined): FieldError[] {
  const errors: FieldError[] = [];
  const names = new Set(regular.map((c) => str(c["name"]) ?? ""));
  inits.forEach((c, i) => {
    const path = `spec.initContainers[${String(i)}]`;
    errors.push(...commonErrors(c, path, mountable));
    const restart = c["restartPolicy"];
    if (restart !== undefined && restart !== "Always") {
      errors.push({ type: "FieldValueNotSupported", field: `${path}.restartPolicy`, detail: `Unsupported value: ${goValue(str(restart) ?? "")}: supported values: "Always"` });
    }
    const name = str(c["name"]) ?? "";
    if (names.has(name)) errors.push(duplicate(`${path}.name`, name));
    else if (name !== "") names.add(name);
    if (restart === "Always") {
      if (isObj(c["lifecycle"])) errors.push(...lifecycleErrors(c["lifecycle"], `${path}.lifecycle`, grace));
    } else if (c["lifecycle"] !== undefined) {
      errors.push(forbidden(`${path}.lifecycle`, "may not be set for init containers without restartPolicy=Always"));
    }
  });
  return errors;
}

export function validatePod(pod: Obj): FieldError[] {
  const spec = obj(pod["spec"]);
  const errors: FieldError[] = [];
  // Defaulted to 30 before validation, so never missing here; a negative value is accepted as sent.
  const grace = num(spec["terminationGracePeriodSeconds"]);
  if (grace === undefined) errors.push(required("spec.terminationGracePeriodSeconds"));
  const volumes = validateVolumes(objs(spec["volumes"]));
  errors.push(...volumes.errors);
  const containers = objs(spec["containers"]);
  const inits = objs(spec["initContainers"]);
  errors.push(...containerErrors(containers, volumes.mountable, grace));
  errors.push(...initContainerErrors(inits, containers, volumes.mountable, grace));
  // Pod-only checks after the spec's (validateContainersOnlyForPod), then ValidatePodCreate's own.
  for (const [kind, list] of [["containers", containers], ["initContainers", inits]] as const) {
    list.forEach((c, i) => {
      const image = str(c["image"]) ?? "";
      if (image !== image.trim()) errors.push(invalid(`spec.${kind}[${String(i)}].image`, image, "must not have leading or trailing whitespace"));
    });
  }
  if (objs(spec["ephemeralContainers"]).length > 0) errors.push(forbidden("spec.ephemeralContainers", "cannot be set on create"));
  return errors;
}
