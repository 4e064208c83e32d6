// Mutating admission as kube-apiserver runs it for a CREATE: first the MutatingAdmissionPolicy
// plugin (bound policies in binding name order, test/fakeapi/mutating-policy.ts), then the
// MutatingWebhookConfigurations in name order, each webhook matched by rules, namespaceSelector,
// objectSelector and matchConditions, called with an AdmissionReview v1 shaped like the recorded
// ones (test/fixtures/real/admission-*.json); its JSON Patch applied and the object defaulted
// again; reinvocationPolicy IfNeeded honoured once, for policies and webhooks alike (a policy that
// ran before a webhook changed the object runs again). For webhooks failurePolicy Ignore forgives
// only a failed call, and a patch that does not apply fails the request (500); for a policy it
// forgives any error of its own (expression or patch), Fail turns one into a 500.
import { randomUUID } from "node:crypto";
import fastJsonPatch from "fast-json-patch";
import type { Admit, RequestContext as BaseContext } from "./api.ts";

type RequestContext = BaseContext & { readonly namespace: string };
import type { Obj } from "./objects.ts";
import { isObj, jsonEqual, meta, num, obj, objs, str } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import { Res } from "./resources.ts";
import type { Store } from "./store.ts";
import { labelSelectorObject } from "./selectors.ts";
import { ApiError, badRequest, internalError } from "./status.ts";
import { applyDefaults } from "./defaults.ts";
import { CallError, callWebhook, webhookUrl } from "./webhookcall.ts";
import { CelError, CelUnsupported, compileCel } from "./cel.ts";
import { typeErrors } from "./decoding.ts";
import { PolicyError, applyPolicyPatch, policyPatch } from "./mutating-policy.ts";

export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  readonly path: string;
}

export interface AdmissionDeps {
  readonly store: Store;
  readonly allocateIp: () => string;
  /** Maps a webhook's clientConfig.service to an https URL (the fake has no service network). */
  readonly resolveService?: ((ref: ServiceRef) => string) | undefined;
}

interface Hook {
  readonly key: string;
  readonly name: string;
  readonly webhook: Obj;
}

function hooks(store: Store): Hook[] {
  const configs = store.list(Res.mutatingwebhooks).sort((a, b) => String(meta(a)["name"]).localeCompare(String(meta(b)["name"])));
  return configs.flatMap((c) => objs(c["webhooks"]).map((w, i) => ({ key: `${String(meta(c)["uid"])}/${String(i)}`, name: str(w["name"]) ?? "", webhook: w })));
}

interface BoundPolicy {
  readonly key: string;
  readonly name: string;
  readonly policy: Obj;
  readonly binding: Obj;
}

/** Bindings in name order, each with its policy; a binding whose policy is missing does nothing. */
function boundPolicies(store: Store): BoundPolicy[] {
  const bindings = store.list(Res.mutatingpolicybindings).sort((a, b) => String(meta(a)["name"]).localeCompare(String(meta(b)["name"])));
  return bindings.flatMap((binding) => {
    const name = str(obj(binding["spec"])["policyName"]) ?? "";
    const policy = store.get(Res.mutatingpolicies, "", name);
    return policy === undefined ? [] : [{ key: `policy/${String(meta(binding)["uid"])}`, name, policy, binding }];
  });
}

function listMatches(values: unknown, wanted: string): boolean {
  const list = Array.isArray(values) ? values.map(String) : [];
  return list.includes("*") || list.includes(wanted);
}

function resourceMatches(patterns: unknown, r: ResourceDef): boolean {
  // Only main-resource CREATEs reach here: `*/*`, `*`, the plural itself, and `pods/*`-style
  // patterns do not match (the last ones name subresources only).
  const list = Array.isArray(patterns) ? patterns.map(String) : [];
  return list.some((p) => p === "*" || p === "*/*" || p === r.plural);
}

function rulesMatch(w: Obj, r: ResourceDef): boolean {
  return objs(w["rules"]).some((rule) => {
    const scope = str(rule["scope"]) ?? "*";
    if ((scope === "Namespaced" && !r.namespaced) || (scope === "Cluster" && r.namespaced)) return false;
    return listMatches(rule["operations"], "CREATE") && listMatches(rule["apiGroups"], r.group)
      && listMatches(rule["apiVersions"], r.version) && resourceMatches(rule["resources"], r);
  });
}

export function makeAdmission(deps: AdmissionDeps): Admit {
  const { store } = deps;

  function namespaceLabelsMatch(w: Obj, r: ResourceDef, o: Obj, namespace: string): boolean {
    if (!r.namespaced && r !== Res.namespaces) return true;
    const ns = r === Res.namespaces ? o : store.get(Res.namespaces, "", namespace);
    return ns === undefined || labelSelectorObject(w["namespaceSelector"])(ns);
  }

  function review(r: ResourceDef, o: Obj, ctx: RequestContext, namespace: string): Obj {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const gvr = { group: r.group, version: r.version, resource: r.plural };
    const name = str(meta(o)["name"]);
    const user: Obj = { username: ctx.user.username, ...(ctx.user.uid === undefined ? {} : { uid: ctx.user.uid }), groups: ctx.user.groups };
    return {
      kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1",
      request: {
        uid: randomUUID(), kind: gvk, resource: gvr, requestKind: gvk, requestResource: gvr,
        ...(name === undefined || name === "" ? {} : { name }),
        ...(r.namespaced ? { namespace } : {}),
        operation: "CREATE", userInfo: user, object: o, oldObject: null, dryRun: ctx.dryRun,
        options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1", ...(ctx.dryRun ? { dryRun: ["All"] } : {}), ...ctx.options },
      },
    };
  }

  function conditionsMatch(h: Hook, body: Obj): boolean {
    const request = obj(body["request"]);
    const vars = { object: request["object"], oldObject: null, request };
    for (const c of objs(h.webhook["matchConditions"])) {
      const expression = str(c["expression"]) ?? "";
      try {
        if (!compileCel(expression)(vars)) return false;
      } catch (e) {
        if (e instanceof CelUnsupported) throw internalError(`fakeapi: matchCondition "${str(c["name"]) ?? ""}" of webhook "${h.name}" uses CEL the fake does not evaluate: ${e.message}`);
        if (e instanceof CelError) throw new CallError(`failed to evaluate match condition "${str(c["name"]) ?? ""}": ${e.message}`);
        throw e;
      }
    }
    return true;
  }

  function target(h: Hook): { url: string; caBundle: string | undefined } {
    const cc = obj(h.webhook["clientConfig"]);
    const timeout = num(h.webhook["timeoutSeconds"]) ?? 10;
    const caBundle = str(cc["caBundle"]);
    const url = str(cc["url"]);
    if (url !== undefined) return { url: webhookUrl(url, timeout), caBundle };
    const svc = obj(cc["service"]);
    if (deps.resolveService === undefined) throw new CallError(`fakeapi: webhook "${h.name}" uses clientConfig.service; start the fake with resolveService to reach it`);
    const ref = { namespace: str(svc["namespace"]) ?? "", name: str(svc["name"]) ?? "", port: num(svc["port"]) ?? 443, path: str(svc["path"]) ?? "/" };
    return { url: webhookUrl(deps.resolveService(ref), timeout), caBundle };
  }

  async function call(h: Hook, body: Obj): Promise<Obj> {
    const { url, caBundle } = target(h);
    const answer = await callWebhook(url, caBundle, num(h.webhook["timeoutSeconds"]) ?? 10, body);
    // VerifyAdmissionResponse (webhook/request/admissionreview.go); each failure is a failed call.
    const invalidResponse = (why: string): CallError => new CallError(`received invalid webhook response: ${why}`);
    const response = answer["response"];
    if (!isObj(response)) throw invalidResponse("webhook response was absent");
    const uid = String(obj(body["request"])["uid"]);
    if (response["uid"] !== uid) throw invalidResponse(`expected response.uid="${uid}", got "${str(response["uid"]) ?? ""}"`);
    if (answer["apiVersion"] !== "admission.k8s.io/v1" || answer["kind"] !== "AdmissionReview") {
      throw invalidResponse(`expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${str(answer["apiVersion"]) ?? ""}, Kind=${str(answer["kind"]) ?? ""}`);
    }
    const patch = str(response["patch"]) ?? "";
    const patchType = response["patchType"];
    if (patch !== "" && patchType === undefined) throw invalidResponse("webhook returned response.patch but not response.patchType");
    if (patch === "" && patchType !== undefined) throw invalidResponse("webhook returned response.patchType but not response.patch");
    if (patchType === "") throw invalidResponse(`webhook returned invalid response.patchType of ""`);
    return response;
  }

  function applyResponse(h: Hook, r: ResourceDef, o: Obj, response: Obj): Obj {
    if (response["allowed"] !== true) {
      // webhook/errors ToStatusErr as of v1.36 (recorded: no "is forbidden" prefix); the status
      // comes back as the webhook wrote it, a missing code being a 500 (ErrorToAPIStatus).
      const status = obj(response["status"]);
      const message = str(status["message"]) ?? "";
      const reason = str(status["reason"]) ?? "";
      const deniedBy = `admission webhook "${h.name}" denied the request`;
      const code = num(status["code"]) ?? 0;
      throw new ApiError(code === 0 ? 500 : code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure",
        message: message !== "" ? `${deniedBy}: ${message}` : reason !== "" ? `${deniedBy}: ${reason}` : `${deniedBy} without explanation`,
        ...(reason === "" ? {} : { reason }), ...(isObj(status["details"]) ? { details: status["details"] } : {}), code: code === 0 ? 500 : code });
    }
    const patch = str(response["patch"]);
    if (patch === undefined) return o;
    if (response["patchType"] !== "JSONPatch") throw new CallError(`unsupported patch type "${String(response["patchType"])}"`);
    let ops: unknown;
    try {
      ops = JSON.parse(Buffer.from(patch, "base64").toString("utf8"));
      if (!Array.isArray(ops)) throw new Error("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
    } catch (e) {
      // A patch that cannot be decoded is a failed call (failurePolicy applies); one that decodes
      // but does not apply fails the request whatever the policy.
      throw new CallError(`received undecodable patch in webhook response: ${e instanceof Error ? e.message : String(e)}`);
    }
    let patched: unknown;
    try {
      patched = fastJsonPatch.applyPatch(structuredClone(o), ops as fastJsonPatch.Operation[], true, false).newDocument;
    } catch (e) {
      throw internalError(describePatchError(e));
    }
    if (!isObj(patched)) throw internalError("the patched object is not an object");
    const wrong = typeErrors(r, patched);
    if (wrong !== undefined) throw internalError(wrong);
    return applyDefaults(r, patched, deps.allocateIp);
  }

  /** One policy's mutation of `o`, or `o` when it does not match or fails under Ignore. */
  function runPolicy(p: BoundPolicy, r: ResourceDef, o: Obj, ctx: RequestContext): Obj {
    const namespaceObject = r.namespaced ? store.get(Res.namespaces, "", ctx.namespace) ?? null : null;
    const request = obj(review(r, o, ctx, ctx.namespace)["request"]);
    try {
      const ops = policyPatch(p.policy, p.binding, { resource: r, object: o, namespaceObject, request });
      if (ops.length === 0) return o;
      const patched = applyPolicyPatch(o, ops);
      const wrong = typeErrors(r, patched);
      if (wrong !== undefined) throw new PolicyError(wrong);
      return applyDefaults(r, patched, deps.allocateIp);
    } catch (e) {
      if (e instanceof CelUnsupported) throw internalError(`fakeapi: MutatingAdmissionPolicy "${p.name}" uses CEL the fake does not evaluate: ${e.message}`);
      if (!(e instanceof PolicyError)) throw e;
      if (obj(p.policy["spec"])["failurePolicy"] === "Ignore") return o;
      throw internalError(`policy '${p.name}' with binding '${String(meta(p.binding)["name"])}' denied request: ${e.message}`);
    }
  }

  async function runWebhook(h: Hook, r: ResourceDef, current: Obj, ctx: RequestContext): Promise<Obj> {
    const w = h.webhook;
    if (!rulesMatch(w, r) || !namespaceLabelsMatch(w, r, current, ctx.namespace) || !labelSelectorObject(w["objectSelector"])(current)) return current;
    const body = review(r, current, ctx, ctx.namespace);
    try {
      if (!conditionsMatch(h, body)) return current;
      const sideEffects = str(w["sideEffects"]);
      if (ctx.dryRun && sideEffects !== "None" && sideEffects !== "NoneOnDryRun") throw badRequest(`admission webhook "${h.name}" does not support dry run`);
      const response = await call(h, body);
      for (const warning of Array.isArray(response["warnings"]) ? response["warnings"] : []) ctx.warn?.(String(warning));
      return applyResponse(h, r, current, response);
    } catch (e) {
      if (!(e instanceof CallError)) throw e;
      if (w["failurePolicy"] === "Ignore") return current;
      throw internalError(`failed calling webhook "${h.name}": ${e.message}`);
    }
  }

  interface Mutator {
    readonly key: string;
    readonly reinvocable: boolean;
    readonly run: (r: ResourceDef, o: Obj, ctx: RequestContext) => Promise<Obj>;
  }

  return async (r, o, ctx) => {
    // The MutatingAdmissionPolicy plugin comes before the webhook plugin in kube-apiserver's
    // admission chain.
    const mutators: Mutator[] = [
      ...boundPolicies(store).map((p) => ({ key: p.key, reinvocable: obj(p.policy["spec"])["reinvocationPolicy"] === "IfNeeded", run: (rr: ResourceDef, oo: Obj, cc: RequestContext) => Promise.resolve(runPolicy(p, rr, oo, cc)) })),
      ...hooks(store).map((h) => ({ key: h.key, reinvocable: h.webhook["reinvocationPolicy"] === "IfNeeded", run: (rr: ResourceDef, oo: Obj, cc: RequestContext) => runWebhook(h, rr, oo, cc) })),
    ];
    let current = o;
    const reinvocable = new Set<string>();
    const reinvoke = new Set<string>();
    for (const pass of [1, 2]) {
      for (const m of mutators) {
        if (pass === 2 && !reinvoke.has(m.key)) continue;
        const next = await m.run(r, current, ctx);
        if (pass === 1 && !jsonEqual(next, current)) for (const k of reinvocable) reinvoke.add(k);
        if (pass === 1 && m.reinvocable) reinvocable.add(m.key);
        current = next;
      }
      if (reinvoke.size === 0) break;
    }
    return current;
  };
}

function describePatchError(e: unknown): string {
  if (e instanceof fastJsonPatch.JsonPatchError) {
    const op = isObj(e.operation) ? String(e.operation["op"]) : "patch";
    const path = isObj(e.operation) ? String(e.operation["path"]) : "";
    if (e.name === "TEST_OPERATION_FAILED") return `testing value ${path} failed: test failed`;
    if (op === "add") return `add operation does not apply: doc is missing path: "${path}": missing value`;
    return `${op} operation does not apply: doc is missing key: ${path}: missing value`;
  }
  return e instanceof Error ? e.message : String(e);
}
