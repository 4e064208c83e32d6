// Validation of admissionregistration.k8s.io/v1 webhook configurations
// (pkg/apis/admissionregistration/validation, apiserver/pkg/util/webhook), the rules a webhook's own
// registration can break, in the real order per webhook: name, rules, failurePolicy, sideEffects,
// timeoutSeconds, reinvocationPolicy, clientConfig; then its admissionReviewVersions; then duplicate
// names. Selectors, matchConditions and service references are not validated.
import type { Obj } from "./objects.ts";
import { arr, isObj, num, obj, objs, str } from "./objects.ts";
import type { FieldError } from "./status.ts";
import { goValue, isDNS1035Label, isDNS1123Subdomain } from "./formats.ts";
import { invalid, required } from "./podvolumes.ts";

const supported = (field: string, value: unknown, values: readonly string[]): FieldError => ({
  type: "FieldValueNotSupported", field,
  detail: `Unsupported value: ${JSON.stringify(value)}: supported values: ${values.map((v) => JSON.stringify(v)).join(", ")}`,
});
const operations = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
const reviewVersions = ["v1", "v1beta1"];
const urlForm = "; desired format: https://host[/path]";

/** IsFullyQualifiedName: a DNS subdomain of at least three segments. */
function nameErrors(field: string, name: string): FieldError[] {
  if (name === "") return [required(field)];
  const problems = isDNS1123Subdomain(name);
  if (problems.length > 0) return [invalid(field, name, problems.join(","))];
  return name.split(".").length < 3 ? [invalid(field, name, "should be a domain with at least three segments separated by dots")] : [];
}

function ruleErrors(rule: Obj, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const ops = arr(rule["operations"]).map((o) => str(o) ?? "");
  if (ops.length === 0) errors.push(required(`${path}.operations`));
  ops.forEach((op, i) => {
    if (!operations.includes(op)) errors.push(supported(`${path}.operations[${String(i)}]`, op, operations));
  });
  for (const k of ["apiGroups", "apiVersions", "resources"]) if (arr(rule[k]).length === 0) errors.push(required(`${path}.${k}`));
  return errors;
}

/**
 * ValidateWebhookURL with https forced; the bad value shown is the part at fault. Go's url.Parse
 * takes almost anything as a relative URL (no scheme, no host), which is what a string the WHATWG
 * parser refuses is taken as here.
 */
function urlErrors(field: string, raw: string): FieldError[] {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return [invalid(field, "", `'https' is the only allowed URL scheme${urlForm}`), invalid(field, "", `host must be provided${urlForm}`)];
  }
  const errors: FieldError[] = [];
  const scheme = u.protocol.replace(/:$/, "");
  if (scheme !== "https") errors.push(invalid(field, scheme, `'https' is the only allowed URL scheme${urlForm}`));
  if (u.host === "") errors.push(invalid(field, u.host, `host must be provided${urlForm}`));
  if (u.username !== "" || u.password !== "") errors.push(invalid(field, u.password === "" ? u.username : `${u.username}:${u.password}`, "user information is not permitted in the URL"));
  if (u.hash !== "") errors.push(invalid(field, u.hash.slice(1), "fragments are not permitted in the URL"));
  if (u.search !== "") errors.push(invalid(field, u.search.slice(1), "query parameters are not permitted in the URL"));
  return errors;
}

function versionErrors(w: Obj, path: string): FieldError[] {
  const versions = arr(w["admissionReviewVersions"]).map((v) => str(v) ?? "");
  if (versions.length === 0) return [required(path, `must specify one of ${reviewVersions.join(", ")}`)];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    if (seen.has(v)) {
      errors.push(invalid(`${path}[${String(i)}]`, v, "duplicate version"));
      return;
    }
    seen.add(v);
    errors.push(...isDNS1035Label(v).map((m) => invalid(`${path}[${String(i)}]`, v, m)));
  });
  if (!versions.some((v) => reviewVersions.includes(v))) {
    // A list is shown as Go's %#v would show a []string.
    errors.push({ type: "FieldValueInvalid", field: path, detail: `Invalid value: []string{${versions.map((v) => goValue(v)).join(", ")}}: must include at least one of ${reviewVersions.join(", ")}` });
  }
  return errors;
}

function webhookErrors(w: Obj, path: string, mutating: boolean): FieldError[] {
  const errors = nameErrors(`${path}.name`, str(w["name"]) ?? "");
  objs(w["rules"]).forEach((rule, i) => errors.push(...ruleErrors(rule, `${path}.rules[${String(i)}]`)));
  const failurePolicy = w["failurePolicy"];
  if (failurePolicy !== undefined && failurePolicy !== "Ignore" && failurePolicy !== "Fail") errors.push(supported(`${path}.failurePolicy`, failurePolicy, ["Fail", "Ignore"]));
  const sideEffects = w["sideEffects"];
  if (sideEffects === undefined) errors.push(required(`${path}.sideEffects`, "must specify one of None, NoneOnDryRun"));
  else if (sideEffects !== "None" && sideEffects !== "NoneOnDryRun") errors.push(supported(`${path}.sideEffects`, sideEffects, ["None", "NoneOnDryRun"]));
  const timeout = num(w["timeoutSeconds"]);
  if (timeout !== undefined && (timeout < 1 || timeout > 30)) errors.push(invalid(`${path}.timeoutSeconds`, timeout, "the timeout value must be between 1 and 30 seconds"));
  const reinvocation = w["reinvocationPolicy"];
  if (mutating && reinvocation !== undefined && reinvocation !== "Never" && reinvocation !== "IfNeeded") errors.push(supported(`${path}.reinvocationPolicy`, reinvocation, ["IfNeeded", "Never"]));
  const cc = obj(w["clientConfig"]);
  const url = str(cc["url"]);
  if ((url === undefined) === !isObj(cc["service"])) errors.push(required(`${path}.clientConfig`, "exactly one of url or service is required"));
  else if (url !== undefined) errors.push(...urlErrors(`${path}.clientConfig.url`, url));
  return errors;
}

export function validateWebhookConfiguration(o: Obj, mutating: boolean): FieldError[] {
  const errors: FieldError[] = [];
  const names = new Set<string>();
  objs(o["webhooks"]).forEach((w, i) => {
    const path = `webhooks[${String(i)}]`;
    errors.push(...webhookErrors(w, path, mutating), ...versionErrors(w, `${path}.admissionReviewVersions`));
    const name = str(w["name"]) ?? "";
    if (name !== "" && names.has(name)) errors.push({ type: "FieldValueDuplicate", field: `${path}.name`, detail: `Duplicate value: ${goValue(name)}` });
    names.add(name);
  });
  return errors;
}
