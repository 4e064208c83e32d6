// Per-kind validation the real registry strategies apply and that lameduck can run into: object
// metadata (names, labels, annotations), ConfigMap/Secret keys, size and immutability, what a pod
// update may change. Pod validation lives in validation.ts.
import type { Obj } from "./objects.ts";
import { isObj, jsonEqual, meta, num, obj, objs, omit, str } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import type { FieldError } from "./status.ts";
import { validateWebhookConfiguration } from "./webhookconfig.ts";
import { isConfigMapKey, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isLabelKey, isLabelValue } from "./formats.ts";
import { forbidden, invalid, required } from "./podvolumes.ts";
import { endpointSliceErrors } from "./ips.ts";

const maxDataBytes = 1024 * 1024;
const maxAnnotationBytes = 256 * 1024;

// The name rule of each kind (ValidateNamespaceName: DNS-1123 label; ValidateServiceName: DNS-1035
// label; the rest: DNS-1123 subdomain).
function nameRule(r: ResourceDef): (name: string) => string[] {
  if (r.group === "" && r.plural === "namespaces") return isDNS1123Label;
  if (r.group === "" && r.plural === "services") return isDNS1035Label;
  return isDNS1123Subdomain;
}

/** ValidateObjectMeta: generateName (its trailing dash masked), name, labels, annotations. */
function metaErrors(r: ResourceDef, m: Obj): FieldError[] {
  const rule = nameRule(r);
  const errors: FieldError[] = [];
  const generateName = str(m["generateName"]) ?? "";
  if (generateName !== "") {
    const masked = generateName.length > 1 && generateName.endsWith("-") ? `${generateName.slice(0, -2)}a` : generateName;
    errors.push(...rule(masked).map((msg) => invalid("metadata.generateName", generateName, msg)));
  }
  const name = str(m["name"]) ?? "";
  if (name === "") errors.push(required("metadata.name", "name or generateName is required"));
  else errors.push(...rule(name).map((msg) => invalid("metadata.name", name, msg)));
  for (const [k, v] of Object.entries(obj(m["labels"]))) {
    errors.push(...isLabelKey(k).map((msg) => invalid("metadata.labels", k, msg)));
    errors.push(...isLabelValue(str(v) ?? "").map((msg) => invalid("metadata.labels", str(v) ?? "", msg)));
  }
  const annotations = Object.entries(obj(m["annotations"]));
  // Annotation keys are qualified names, compared case-insensitively.
  for (const [k] of annotations) errors.push(...isLabelKey(k.toLowerCase()).map((msg) => invalid("metadata.annotations", k, msg)));
  const size = annotations.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(str(v) ?? ""), 0);
  if (size > maxAnnotationBytes) errors.push({ type: "FieldValueTooLong", field: "metadata.annotations", detail: `Too long: may not be more than ${String(maxAnnotationBytes)} bytes` });
  return errors;
}

function decodedLength(b64: string): number {
  return Buffer.from(b64, "base64").length;
}

/** ValidateConfigMap / ValidateSecret: keys, keys in both bags, the total size. */
function dataErrors(o: Obj, binaryField: "binaryData" | "data", textField: "data" | undefined): FieldError[] {
  const errors: FieldError[] = [];
  let total = 0;
  const text = textField === undefined ? {} : obj(o[textField]);
  const binary = obj(o[binaryField]);
  for (const [k, v] of Object.entries(text)) {
    errors.push(...isConfigMapKey(k).map((msg) => invalid(`data[${k}]`, k, msg)));
    if (k in binary) errors.push(invalid(`data[${k}]`, k, "duplicate of key present in binaryData"));
    total += Buffer.byteLength(str(v) ?? "", "utf8");
  }
  for (const [k, v] of Object.entries(binary)) {
    errors.push(...isConfigMapKey(k).map((msg) => invalid(`${binaryField}[${k}]`, k, msg)));
    total += decodedLength(str(v) ?? "");
  }
  if (total > maxDataBytes) {
    // The real validator reports the whole object (an empty path, printed as `[]`).
    errors.push({ type: "FieldValueTooLong", field: textField === undefined ? "data" : "[]", detail: `Too long: may not be more than ${String(maxDataBytes)} bytes` });
  }
  return errors;
}

export function validateObject(r: ResourceDef, o: Obj): FieldError[] {
  const errors = metaErrors(r, meta(o));
  if (r.group === "" && r.plural === "configmaps") errors.push(...dataErrors(o, "binaryData", "data"));
  if (r.group === "" && r.plural === "secrets") errors.push(...dataErrors(o, "data", undefined));
  if (r.group === "discovery.k8s.io" && r.plural === "endpointslices") errors.push(...endpointSliceErrors(o));
  if (r.group === "admissionregistration.k8s.io" && r.plural.endsWith("webhookconfigurations")) errors.push(...validateWebhookConfiguration(o, r.plural === "mutatingwebhookconfigurations"));
  return errors;
}

// What a pod update may change (ValidatePodUpdate); everything else in the spec is immutable. The
// real message goes on with a diff of the internal PodSpec, which the fake does not reproduce.
const podUpdatable = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/** The spec with what an update may change set to the old values, as ValidatePodUpdate munges it. */
function mungedSpec(next: Obj, old: Obj): Obj {
  const s: Obj = { ...next, activeDeadlineSeconds: old["activeDeadlineSeconds"], tolerations: old["tolerations"], schedulingGates: old["schedulingGates"] };
  for (const k of ["containers", "initContainers"]) {
    const before = objs(old[k]);
    if (Array.isArray(next[k])) s[k] = objs(next[k]).map((c, i) => ({ ...c, image: before[i]?.["image"] }));
  }
  const was = num(old["terminationGracePeriodSeconds"]);
  if (was !== undefined && was < 0 && num(next["terminationGracePeriodSeconds"]) === 1) s["terminationGracePeriodSeconds"] = was;
  return s;
}

function podUpdateErrors(oldSpec: Obj, nextSpec: Obj): FieldError[] {
  for (const k of ["containers", "initContainers"]) {
    if (objs(oldSpec[k]).length !== objs(nextSpec[k]).length) return [forbidden(`spec.${k}`, "pod updates may not add or remove containers")];
  }
  const errors: FieldError[] = [];
  // Tolerations may be added; an existing one may change only its tolerationSeconds.
  const added = objs(nextSpec["tolerations"]).map((t) => omit(t, ["tolerationSeconds"]));
  if (!objs(oldSpec["tolerations"]).every((t) => added.some((n) => jsonEqual(n, omit(t, ["tolerationSeconds"]))))) {
    errors.push(forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"));
  }
  if (!jsonEqual(mungedSpec(nextSpec, oldSpec), oldSpec)) errors.push(forbidden("spec", podUpdatable));
  return errors;
}

export function validateUpdate(r: ResourceDef, old: Obj, next: Obj): FieldError[] {
  const errors: FieldError[] = [];
  if (r.group === "" && r.plural === "pods") errors.push(...podUpdateErrors(obj(old["spec"]), obj(next["spec"])));
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
