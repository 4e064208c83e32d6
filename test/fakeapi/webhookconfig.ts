// Validation of admissionregistration.k8s.io/v1 webhook configurations (pkg/apis/admissionregistration
// /validation), the rules a webhook's own registration can break: names, sideEffects, review
// versions, clientConfig (exactly one of url or service; https), failurePolicy, timeoutSeconds.
import type { Obj } from "./objects.ts";
import { num, obj, objs, str } from "./objects.ts";
import type { FieldError } from "./status.ts";

const supported = (field: string, value: unknown, values: readonly string[]): FieldError => ({
  type: "FieldValueNotSupported", field,
  detail: `Unsupported value: ${JSON.stringify(value)}: supported values: ${values.map((v) => JSON.stringify(v)).join(", ")}`,
});

export function validateWebhookConfiguration(o: Obj): FieldError[] {
  const errors: FieldError[] = [];
  const names = new Set<string>();
  objs(o["webhooks"]).forEach((w, i) => {
    const path = `webhooks[${i}]`;
    const name = str(w["name"]) ?? "";
    if (name.split(".").length < 3) errors.push({ type: "FieldValueInvalid", field: `${path}.name`, detail: `Invalid value: ${JSON.stringify(name)}: should be a domain with at least three segments separated by dots` });
    else if (names.has(name)) errors.push({ type: "FieldValueDuplicate", field: `${path}.name`, detail: `Duplicate value: ${JSON.stringify(name)}` });
    names.add(name);
    const sideEffects = w["sideEffects"];
    if (sideEffects === undefined) errors.push({ type: "FieldValueRequired", field: `${path}.sideEffects`, detail: "Required value" });
    else if (sideEffects !== "None" && sideEffects !== "NoneOnDryRun") errors.push(supported(`${path}.sideEffects`, sideEffects, ["None", "NoneOnDryRun"]));
    const versions = Array.isArray(w["admissionReviewVersions"]) ? w["admissionReviewVersions"] : [];
    if (!versions.some((v) => v === "v1" || v === "v1beta1")) {
      errors.push({ type: "FieldValueRequired", field: `${path}.admissionReviewVersions`, detail: "Required value: must specify one of v1, v1beta1" });
    }
    const failurePolicy = w["failurePolicy"];
    if (failurePolicy !== undefined && failurePolicy !== "Ignore" && failurePolicy !== "Fail") errors.push(supported(`${path}.failurePolicy`, failurePolicy, ["Fail", "Ignore"]));
    const timeout = num(w["timeoutSeconds"]);
    if (timeout !== undefined && (timeout < 1 || timeout > 30)) {
      errors.push({ type: "FieldValueInvalid", field: `${path}.timeoutSeconds`, detail: `Invalid value: ${String(timeout)}: the timeout value must be between 1 and 30 seconds` });
    }
    const cc = obj(w["clientConfig"]);
    const url = str(cc["url"]);
    if ((url === undefined) === (cc["service"] === undefined)) {
      errors.push({ type: "FieldValueRequired", field: `${path}.clientConfig`, detail: "Required value: exactly one of url or service is required" });
    } else if (url !== undefined && !url.startsWith("https://")) {
      errors.push({ type: "FieldValueInvalid", field: `${path}.clientConfig.url`, detail: `Invalid value: ${JSON.stringify(url)}: 'https' is the only allowed URL scheme` });
    }
  });
  return errors;
}
