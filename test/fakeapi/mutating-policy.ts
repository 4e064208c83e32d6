// One MutatingAdmissionPolicy (admissionregistration.k8s.io/v1) with one binding, evaluated as
// kube-apiserver's mutating policy dispatcher does for a CREATE: the policy's matchConstraints
// (resourceRules, namespaceSelector, objectSelector) and the binding's matchResources, then the
// matchConditions, then the variables in order, then each mutation's JSONPatch expression, whose
// operations are applied in order. Variables are evaluated eagerly (the real server is lazy): an
// expression whose error would be masked by never being used fails here. Params (paramKind) and
// ApplyConfiguration mutations are not implemented and fail loudly.
import fastJsonPatch from "fast-json-patch";
import type { Obj } from "./objects.ts";
import { isObj, obj, objs, str } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import { labelSelectorObject } from "./selectors.ts";
import { CelError, CelUnsupported, compileCelValue, fromCel, toCel } from "./cel.ts";

/** The policy cannot be evaluated as written (failurePolicy decides what the request sees). */
export class PolicyError extends Error {}

export interface PolicyRequest {
  readonly resource: ResourceDef;
  readonly object: Obj;
  /** The namespace object, or null for cluster-scoped resources (CEL `namespaceObject`). */
  readonly namespaceObject: Obj | null;
  /** The admission request attributes (CEL `request`). */
  readonly request: Obj;
}

function listed(values: unknown, wanted: string): boolean {
  const list = Array.isArray(values) ? values.map(String) : [];
  return list.includes("*") || list.includes(wanted);
}

function rulesMatch(rules: unknown, r: ResourceDef): boolean {
  return objs(rules).some((rule) => {
    const scope = str(rule["scope"]) ?? "*";
    if ((scope === "Namespaced" && !r.namespaced) || (scope === "Cluster" && r.namespaced)) return false;
    const resources = Array.isArray(rule["resources"]) ? rule["resources"].map(String) : [];
    return listed(rule["operations"], "CREATE") && listed(rule["apiGroups"], r.group) && listed(rule["apiVersions"], r.version)
      && resources.some((p) => p === "*" || p === "*/*" || p === r.plural);
  });
}

/** matchConstraints of the policy, or matchResources of the binding (an absent one matches all). */
function resourcesMatch(match: unknown, req: PolicyRequest): boolean {
  if (!isObj(match)) return true;
  if (match["resourceRules"] !== undefined && !rulesMatch(match["resourceRules"], req.resource)) return false;
  if (match["excludeResourceRules"] !== undefined && rulesMatch(match["excludeResourceRules"], req.resource)) return false;
  if (req.namespaceObject !== null && !labelSelectorObject(match["namespaceSelector"])(req.namespaceObject)) return false;
  return labelSelectorObject(match["objectSelector"])(req.object);
}

function evaluate(name: string, expression: string, vars: Record<string, unknown>): ReturnType<ReturnType<typeof compileCelValue>> {
  try {
    return compileCelValue(expression)(vars);
  } catch (e) {
    if (e instanceof CelUnsupported) throw e;
    if (e instanceof CelError) throw new PolicyError(`${name}: ${e.message}`);
    throw e;
  }
}

/**
 * The JSON Patch operations the policy yields for the request, in order; [] when it does not
 * match. Throws PolicyError for a runtime error and CelUnsupported for CEL the fake lacks.
 */
export function policyPatch(policy: Obj, binding: Obj, req: PolicyRequest): fastJsonPatch.Operation[] {
  const spec = obj(policy["spec"]);
  const policyName = str(obj(policy["metadata"])["name"]) ?? "";
  if (spec["paramKind"] !== undefined) throw new CelUnsupported(`policy "${policyName}": paramKind is not implemented by the fake`);
  if (!resourcesMatch(spec["matchConstraints"], req) || !resourcesMatch(obj(binding["spec"])["matchResources"], req)) return [];
  // Converted once: every expression of the policy reads the same values.
  const base = { object: toCel(req.object), oldObject: null, request: toCel(req.request), namespaceObject: toCel(req.namespaceObject), params: null };
  const variables = new Map<string, unknown>();
  const vars = { ...base, variables };
  for (const c of objs(spec["matchConditions"])) {
    const result = evaluate(`matchCondition "${str(c["name"]) ?? ""}"`, str(c["expression"]) ?? "", vars);
    if (typeof result !== "boolean") throw new PolicyError(`matchCondition "${str(c["name"]) ?? ""}" did not yield a bool`);
    if (!result) return [];
  }
  for (const variable of objs(spec["variables"])) {
    const name = str(variable["name"]) ?? "";
    variables.set(name, evaluate(`variable "${name}"`, str(variable["expression"]) ?? "", vars));
  }
  const ops: fastJsonPatch.Operation[] = [];
  for (const [i, m] of objs(spec["mutations"]).entries()) {
    if (m["patchType"] !== "JSONPatch") throw new CelUnsupported(`policy "${policyName}": mutation ${String(i)} is ${String(m["patchType"])}; the fake applies JSONPatch only`);
    const result = fromCel(evaluate(`mutation ${String(i)}`, str(obj(m["jsonPatch"])["expression"]) ?? "", vars));
    if (!Array.isArray(result)) throw new PolicyError(`mutation ${String(i)}: expected a list of JSONPatch, got ${JSON.stringify(result)}`);
    for (const op of result) {
      if (!isObj(op) || typeof op["op"] !== "string" || typeof op["path"] !== "string") throw new PolicyError(`mutation ${String(i)}: ${JSON.stringify(op)} is not a JSONPatch`);
      ops.push(op as unknown as fastJsonPatch.Operation);
    }
  }
  return ops;
}

/** The object with the operations applied, or a PolicyError naming the one that does not apply. */
export function applyPolicyPatch(object: Obj, ops: readonly fastJsonPatch.Operation[]): Obj {
  try {
    const patched: unknown = fastJsonPatch.applyPatch(structuredClone(object), [...ops], true, false).newDocument;
    if (!isObj(patched)) throw new PolicyError("the patched object is not an object");
    return patched;
  } catch (e) {
    if (e instanceof PolicyError) throw e;
    throw new PolicyError(`JSON patch does not apply: ${e instanceof Error ? e.message.split("\n")[0] ?? "" : String(e)}`);
  }
}
