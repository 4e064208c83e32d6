// Per-kind validation the real registry strategies apply and that lameduck can run into: object
// names, ConfigMap/Secret size and immutability. Pod validation lives in validation.ts.
import type { Obj } from "./objects.ts";
import { isObj, jsonEqual, meta, obj, omit, str } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import type { FieldError } from "./status.ts";
import { validateWebhookConfiguration } from "./webhookconfig.ts";

const maxDataBytes = 1024 * 1024;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const configKey = /^[-._a-zA-Z0-9]+$/;

// Resources whose names must be DNS-1123 labels rather than subdomains.
const labelNamed = new Set(["namespaces", "services"]);

function nameErrors(r: ResourceDef, name: string): FieldError[] {
  if (labelNamed.has(r.plural)) {
    if (name.length > 63 || !dns1123Label.test(name)) {
      return [{ type: "FieldValueInvalid", field: "metadata.name", detail: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')` }];
    }
    return [];
  }
  if (name.length > 253 || !dns1123Subdomain.test(name)) {
    return [{ type: "FieldValueInvalid", field: "metadata.name", detail: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')` }];
  }
  return [];
}

function decodedLength(b64: string): number {
  return Buffer.from(b64, "base64").length;
}

function dataErrors(o: Obj, binaryField: "binaryData" | "data", textField: "data" | undefined): FieldError[] {
  const errors: FieldError[] = [];
  let total = 0;
  const text = textField === undefined ? {} : obj(o[textField]);
  const binary = obj(o[binaryField]);
  for (const [k, v] of Object.entries(text)) {
    if (!configKey.test(k)) errors.push({ type: "FieldValueInvalid", field: `data[${k}]`, detail: `Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')` });
    total += Buffer.byteLength(str(v) ?? "", "utf8");
  }
  for (const [k, v] of Object.entries(binary)) {
    if (k in text) errors.push({ type: "FieldValueInvalid", field: `data[${k}]`, detail: `Invalid value: "${k}": duplicate of key present in binaryData` });
    total += decodedLength(str(v) ?? "");
  }
  if (total > maxDataBytes) {
    // The real validator reports the whole object (an empty path, printed as `[]`).
    errors.push({ type: "FieldValueTooLong", field: textField === undefined ? "data" : "[]", detail: `Too long: may not be more than ${maxDataBytes} bytes` });
  }
  return errors;
}

export function validateObject(r: ResourceDef, o: Obj): FieldError[] {
  const errors = nameErrors(r, str(meta(o)["name"]) ?? "");
  if (r.group === "" && r.plural === "configmaps") errors.push(...dataErrors(o, "binaryData", "data"));
  if (r.group === "" && r.plural === "secrets") errors.push(...dataErrors(o, "data", undefined));
  if (r.group === "admissionregistration.k8s.io") errors.push(...validateWebhookConfiguration(o));
  return errors;
}

// What a pod update may change (ValidatePodUpdate); everything else in the spec is immutable.
const podUpdatable = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

function mutablePodSpecRemoved(spec: unknown): Obj {
  const s = omit(obj(spec), ["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"]);
  for (const k of ["containers", "initContainers"]) {
    if (Array.isArray(s[k])) s[k] = s[k].map((c) => omit(obj(c), ["image"]));
  }
  return s;
}

export function validateUpdate(r: ResourceDef, old: Obj, next: Obj): FieldError[] {
  const errors: FieldError[] = [];
  if (r.group === "" && r.plural === "pods" && !jsonEqual(mutablePodSpecRemoved(old["spec"]), mutablePodSpecRemoved(next["spec"]))) {
    errors.push({ type: "FieldValueForbidden", field: "spec", detail: `Forbidden: ${podUpdatable}` });
  }
  if (r.group === "" && (r.plural === "configmaps" || r.plural === "secrets") && old["immutable"] === true) {
    const why = "field is immutable when `immutable` is set";
    if (next["immutable"] !== true) errors.push({ type: "FieldValueForbidden", field: "immutable", detail: `Forbidden: ${why}` });
    const fields = r.plural === "configmaps" ? ["data", "binaryData"] : ["data"];
    for (const f of fields) {
      if (!jsonEqual(old[f] ?? {}, next[f] ?? {})) errors.push({ type: "FieldValueForbidden", field: f, detail: `Forbidden: ${why}` });
    }
  }
  return errors;
}

/** Secrets accept `stringData` as write-only input merged into `data` (base64). */
export function normaliseSecret(o: Obj): Obj {
  if (!isObj(o["stringData"])) return o;
  const data: Obj = { ...obj(o["data"]) };
  for (const [k, v] of Object.entries(o["stringData"])) data[k] = Buffer.from(str(v) ?? "").toString("base64");
  const rest = omit(o, ["stringData"]);
  return { ...rest, data, type: rest["type"] ?? "Opaque" };
}
