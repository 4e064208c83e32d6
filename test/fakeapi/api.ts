// The verbs, independent of HTTP: create (defaulting, admission, validation), update and patch
// (optimistic concurrency, status subresource), delete (graceful for pods, finalizers, namespaces),
// list (selectors, limit/continue). The HTTP layer (server.ts) only routes to these.
import type { Obj } from "./objects.ts";
import { isObj, jsonEqual, meta, omit, nameOf, num, obj, str, timestamp } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import { apiVersionOf, Res } from "./resources.ts";
import type { GenerationRule, Store } from "./store.ts";
import type { Matcher } from "./selectors.ts";
import { alreadyExists, ApiError, badRequest, conflict, forbidden, invalid, notFound, preconditionFailed, success } from "./status.ts";
import type { FieldError } from "./status.ts";
import { validateObject, validateUpdate, normaliseSecret } from "./kinds.ts";
import { applyDefaults, namespaceNameLabel, qosClass } from "./defaults.ts";
import { applyPatch, PatchType } from "./patch.ts";
import { randomSuffix } from "./names.ts";
import { deletePod } from "./pods.ts";
import { podSecurityViolation } from "./podsecurity.ts";

export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
}

export interface RequestContext {
  readonly dryRun: boolean;
  readonly user: UserInfo;
  /** CreateOptions fields the client sent (`fieldManager`, `fieldValidation`), shown to webhooks. */
  readonly options?: Readonly<Record<string, string>>;
  /** Receives admission warnings; the HTTP layer returns them as `Warning: 299` headers. */
  readonly warn?: (message: string) => void;
}

/** Mutating admission for a CREATE: returns the (possibly patched) object or throws an ApiError. */
export type Admit = (r: ResourceDef, o: Obj, ctx: RequestContext & { readonly namespace: string }) => Promise<Obj>;
/** Extra validation of a created object (pods: validation.ts). */
export type Validate = (r: ResourceDef, o: Obj) => FieldError[];

export interface DeleteOptions {
  readonly gracePeriodSeconds?: number;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

export interface ListQuery {
  readonly matches: Matcher;
  /** A label or field selector was given: the real server then cannot count the remaining items. */
  readonly filtered?: boolean;
  readonly limit?: number;
  readonly continueToken?: string;
}

export interface Api {
  get(r: ResourceDef, namespace: string, name: string): Obj;
  list(r: ResourceDef, namespace: string | undefined, q: ListQuery): Obj;
  create(r: ResourceDef, namespace: string, body: Obj, ctx: RequestContext): Promise<Obj>;
  update(r: ResourceDef, namespace: string, name: string, body: Obj, subresource: string | undefined, ctx: RequestContext): Obj;
  patch(r: ResourceDef, namespace: string, name: string, contentType: string, patch: unknown, subresource: string | undefined, ctx: RequestContext): Promise<Obj>;
  remove(r: ResourceDef, namespace: string, name: string, opts: DeleteOptions, ctx: RequestContext): Obj;
  bind(namespace: string, name: string, binding: Obj, ctx: RequestContext): Obj;
}

export interface ApiDeps {
  readonly store: Store;
  readonly admit: Admit;
  readonly validate: Validate;
  readonly allocateIp: () => string;
}

function withMeta(o: Obj, fields: Obj): Obj {
  return { ...o, metadata: { ...meta(o), ...fields } };
}

function withoutVersion(o: Obj): Obj {
  return { ...o, metadata: omit(meta(o), ["resourceVersion", "managedFields"]) };
}

export function makeApi(deps: ApiDeps): Api {
  const { store } = deps;

  function mustGet(r: ResourceDef, namespace: string, name: string): Obj {
    const o = store.get(r, r.namespaced ? namespace : "", name);
    if (o === undefined) throw notFound(r, name);
    return o;
  }

  function checkNamespace(r: ResourceDef, namespace: string, name: string): void {
    if (!r.namespaced) return;
    const ns = store.get(Res.namespaces, "", namespace);
    if (ns === undefined) throw notFound(Res.namespaces, namespace);
    if (meta(ns)["deletionTimestamp"] !== undefined) {
      const why = `unable to create new content in namespace ${namespace} because it is being terminated`;
      throw forbidden(r, name, why, { reason: "NamespaceTerminating", message: why, field: "metadata.namespace" });
    }
  }

  /** What the registry strategies reset at creation, after admission (PrepareForCreate). */
  function prepareForCreate(r: ResourceDef, o: Obj): Obj {
    if (r.group === "" && r.plural === "pods") return { ...o, status: { phase: "Pending", qosClass: qosClass(o) } };
    if (r.group === "" && r.plural === "namespaces") return namespaceNameLabel(o);
    return o;
  }

  /** Deletion completes once a terminating object has no finalizers left and no grace period running. */
  function finishIfDone(r: ResourceDef, o: Obj): Obj {
    const m = meta(o);
    const finalizers = Array.isArray(m["finalizers"]) ? m["finalizers"] : [];
    if (m["deletionTimestamp"] !== undefined && finalizers.length === 0 && (num(m["deletionGracePeriodSeconds"]) ?? 0) === 0 && r.plural !== "namespaces") {
      return store.remove(r, r.namespaced ? str(m["namespace"]) ?? "" : "", nameOf(o));
    }
    return o;
  }

  function write(r: ResourceDef, old: Obj, next: Obj, ctx: RequestContext, status: boolean): Obj {
    // A pod's main-resource update is validated as a whole pod first (ValidatePodUpdate); a status
    // write leaves the spec alone and is not.
    const errors = r === Res.pods
      ? [...validateObject(r, next), ...(status ? [] : deps.validate(r, next)), ...validateUpdate(r, old, next)]
      : [...validateUpdate(r, old, next), ...validateObject(r, next)];
    if (errors.length > 0) throw invalid(r, nameOf(old), errors);
    // The real server skips the etcd write, and so the event and the new resourceVersion, for a no-op.
    if (jsonEqual(withoutVersion(old), withoutVersion(next))) return old;
    if (ctx.dryRun) return next;
    const generation: GenerationRule = status ? "keep" : "auto";
    return finishIfDone(r, store.replace(r, next, generation));
  }

  function update(r: ResourceDef, namespace: string, name: string, body: Obj, subresource: string | undefined, ctx: RequestContext): Obj {
    const old = mustGet(r, namespace, name);
    if (nameOf(body) !== "" && nameOf(body) !== name) {
      throw badRequest(`the name of the object (${nameOf(body)}) does not match the name on the URL (${name})`);
    }
    const rv = str(meta(body)["resourceVersion"]);
    if (rv !== undefined && rv !== "" && rv !== meta(old)["resourceVersion"]) throw conflict(r, name);
    const om = meta(old);
    const keep: Obj = { name, uid: om["uid"], creationTimestamp: om["creationTimestamp"], resourceVersion: om["resourceVersion"] };
    for (const k of ["namespace", "generation", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName"]) if (om[k] !== undefined) keep[k] = om[k];
    let next: Obj = withMeta({ ...body, kind: r.kind, apiVersion: apiVersionOf(r) }, keep);
    if (subresource === "status") {
      // A status write changes only the status (and, as for pods, labels and annotations).
      next = { ...old, status: body["status"], metadata: { ...om, labels: meta(body)["labels"] ?? om["labels"], annotations: meta(body)["annotations"] ?? om["annotations"] } };
    } else if (subresource !== undefined) {
      throw badRequest(`subresource ${subresource} does not accept updates`);
    } else if (r.hasStatus) {
      next["status"] = old["status"];
    }
    if (r.plural === "secrets") next = normaliseSecret(next);
    if (r === Res.namespaces) next = namespaceNameLabel(next);
    return write(r, old, next, ctx, subresource === "status");
  }

  async function create(r: ResourceDef, namespace: string, body: Obj, ctx: RequestContext): Promise<Obj> {
    const m = meta(body);
    const bodyNs = str(m["namespace"]);
    if (r.namespaced && bodyNs !== undefined && bodyNs !== "" && bodyNs !== namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    const name = str(m["name"]) ?? "";
    const generateName = str(m["generateName"]) ?? "";
    const cleanMeta = omit(m, ["resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"]);
    if (r.namespaced) cleanMeta["namespace"] = namespace;
    else delete cleanMeta["namespace"];
    let o: Obj = { ...body, kind: r.kind, apiVersion: apiVersionOf(r), metadata: cleanMeta };
    if (name === "" && generateName === "") {
      throw invalid(r, "", [{ type: "FieldValueRequired", field: "metadata.name", detail: "Required value: name or generateName is required" }]);
    }
    checkNamespace(r, namespace, name);
    o = applyDefaults(r, o, deps.allocateIp);
    o = await deps.admit(r, o, { ...ctx, namespace });
    checkNamespace(r, namespace, name);
    for (let attempt = 0; ; attempt++) {
      const finalName = name !== "" ? name : `${generateName}${randomSuffix()}`;
      const candidate = prepareForCreate(r, withMeta(o, { name: finalName }));
      const errors = [...validateObject(r, candidate), ...deps.validate(r, candidate)];
      if (errors.length > 0) throw invalid(r, finalName, errors);
      if (r === Res.pods) {
        // Pod Security is validating admission: after the mutating webhooks, name generation and
        // validation, so it judges the patched pod under its final name.
        const violation = podSecurityViolation(store.get(Res.namespaces, "", namespace), candidate);
        if (violation !== undefined) throw forbidden(r, finalName, violation);
      }
      if (ctx.dryRun) {
        if (store.get(r, r.namespaced ? namespace : "", finalName) !== undefined) throw alreadyExists(r, finalName);
        return withMeta(candidate, { creationTimestamp: timestamp() });
      }
      try {
        return store.create(r, candidate);
      } catch (e) {
        // A generated name that collides is retried, as the real registry does.
        if (!(e instanceof ApiError) || e.code !== 409 || name !== "" || attempt >= 3) throw e;
      }
    }
  }

  function remove(r: ResourceDef, namespace: string, name: string, opts: DeleteOptions, ctx: RequestContext): Obj {
    const old = mustGet(r, namespace, name);
    const om = meta(old);
    const failed = (why: string): ApiError => preconditionFailed(r, namespace, name, why);
    if (opts.preconditions?.uid !== undefined && opts.preconditions.uid !== om["uid"]) {
      throw failed(`UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${String(om["uid"])}`);
    }
    if (opts.preconditions?.resourceVersion !== undefined && opts.preconditions.resourceVersion !== om["resourceVersion"]) {
      throw failed(`ResourceVersion in precondition: ${opts.preconditions.resourceVersion}, ResourceVersion in object meta: ${String(om["resourceVersion"])}`);
    }
    if (ctx.dryRun) return r.returnsDeleted ? old : success(r, name, String(om["uid"]));
    let result: Obj;
    if (r.group === "" && r.plural === "pods") {
      result = deletePod(store, old, opts.gracePeriodSeconds);
    } else if (r.group === "" && r.plural === "namespaces") {
      result = om["deletionTimestamp"] !== undefined ? old
        : store.replace(r, { ...withMeta(old, { deletionTimestamp: timestamp() }), status: { phase: "Terminating" } });
    } else if (Array.isArray(om["finalizers"]) && om["finalizers"].length > 0) {
      result = om["deletionTimestamp"] !== undefined ? old : store.replace(r, withMeta(old, { deletionTimestamp: timestamp(), deletionGracePeriodSeconds: 0 }));
    } else {
      result = store.remove(r, r.namespaced ? namespace : "", name);
    }
    return r.returnsDeleted ? result : success(r, name, String(om["uid"]));
  }

  return {
    get: mustGet,
    list(r, namespace, q) {
      const items = store.list(r, r.namespaced ? namespace : undefined).filter(q.matches);
      // etcd lists in key order: namespace, then name.
      const keys = new Map(items.map((o) => [o, keyOf(o)]));
      items.sort((a, b) => {
        const ka = keys.get(a) ?? "";
        const kb = keys.get(b) ?? "";
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
      const listMeta: Obj = { resourceVersion: String(store.currentRv()) };
      let page = items;
      if (q.continueToken !== undefined && q.continueToken !== "") {
        const after = decodeContinue(q.continueToken);
        page = page.filter((o) => keyOf(o) > after);
      }
      if (q.limit !== undefined && q.limit > 0 && page.length > q.limit) {
        const last = page[q.limit - 1];
        listMeta["continue"] = Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", start: last === undefined ? "" : keyOf(last) })).toString("base64");
        if (q.filtered !== true) listMeta["remainingItemCount"] = page.length - q.limit;
        page = page.slice(0, q.limit);
      }
      return { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: listMeta, items: page };
    },
    create,
    update,
    async patch(r, namespace, name, contentType, patch, subresource, ctx) {
      const current = store.get(r, r.namespaced ? namespace : "", name);
      if (current === undefined) {
        if (contentType === PatchType.apply && isObj(patch)) return create(r, namespace, withMeta(patch, { name }), ctx);
        throw notFound(r, name);
      }
      const next = applyPatch(contentType, current, patch);
      // A patch carrying metadata.resourceVersion is a precondition; one without is unconditional.
      const patchRv = isObj(patch) ? str(obj(patch["metadata"])["resourceVersion"]) : undefined;
      const body = withMeta(next, { resourceVersion: patchRv ?? meta(current)["resourceVersion"] });
      return Promise.resolve(update(r, namespace, name, body, subresource, ctx));
    },
    remove,
    bind(namespace, name, binding, ctx) {
      const pod = mustGet(Res.pods, namespace, name);
      const target = str(obj(binding["target"])["name"]) ?? "";
      if (target === "") throw invalid(Res.pods, name, [{ type: "FieldValueRequired", field: "target.name", detail: "Required value" }]);
      const spec = obj(pod["spec"]);
      const current = str(spec["nodeName"]);
      // setPodNodeAndMetadata checks deletion first, then an existing node.
      if (meta(pod)["deletionTimestamp"] !== undefined) throw conflict(Res.pods, name, `pod ${name} is being deleted, cannot be assigned to a host`, "binding");
      if (current !== undefined && current !== "") {
        throw conflict(Res.pods, name, `pod ${name} is already assigned to node "${current}"`, "binding");
      }
      const status = obj(pod["status"]);
      const conditions = (Array.isArray(status["conditions"]) ? status["conditions"] : []).filter((c) => !(isObj(c) && c["type"] === "PodScheduled"));
      conditions.push({ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: timestamp() });
      const annotations = { ...obj(meta(pod)["annotations"]), ...obj(meta(binding)["annotations"]) };
      const next: Obj = { ...withMeta(pod, Object.keys(annotations).length > 0 ? { annotations } : {}), spec: { ...spec, nodeName: target }, status: { ...status, conditions } };
      if (!ctx.dryRun) store.replace(Res.pods, next, "keep");
      return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 };
    },
  };
}

function keyOf(o: Obj): string {
  return `${str(meta(o)["namespace"]) ?? ""}/${nameOf(o)}`;
}

function decodeContinue(token: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64").toString("utf8"));
    const start = isObj(parsed) ? str(parsed["start"]) : undefined;
    if (start !== undefined) return start;
  } catch {
    // fall through to the real server's answer for a malformed token
  }
  throw badRequest("continue key is not valid: illegal base64 data");
}
