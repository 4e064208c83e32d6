// Status bodies shaped like the real kube-apiserver's (k8s.io/apimachinery/pkg/api/errors), so a
// client's error handling is exercised with the messages it will see in production.
import type { ResourceDef } from "./resources.ts";
import { qualifiedName } from "./resources.ts";
import type { Obj } from "./objects.ts";

export interface FieldError {
  readonly type: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueForbidden" | "FieldValueDuplicate" | "FieldValueNotFound" | "FieldValueNotSupported" | "FieldValueTooLong";
  readonly field: string;
  /** The part after the field path, e.g. `Invalid value: 31: must be ...`. */
  readonly detail: string;
}

/** A request that fails with a Status body; thrown by the store and the rules, caught by the router. */
export class ApiError extends Error {
  readonly code: number;
  readonly body: Obj;
  constructor(code: number, body: Obj) {
    super(typeof body["message"] === "string" ? body["message"] : `HTTP ${code}`);
    this.code = code;
    this.body = body;
  }
}

function failure(code: number, reason: string, message: string, details?: Obj): ApiError {
  const body: Obj = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason };
  if (details !== undefined) body["details"] = details;
  body["code"] = code;
  return new ApiError(code, body);
}

function details(r: ResourceDef, name: string): Obj {
  return r.group === "" ? { name, kind: r.plural } : { name, group: r.group, kind: r.plural };
}

export function notFound(r: ResourceDef, name: string): ApiError {
  return failure(404, "NotFound", `${qualifiedName(r)} "${name}" not found`, details(r, name));
}

export function alreadyExists(r: ResourceDef, name: string, beingDeleted = false): ApiError {
  const prefix = beingDeleted ? "object is being deleted: " : "";
  return failure(409, "AlreadyExists", `${prefix}${qualifiedName(r)} "${name}" already exists`, details(r, name));
}

export function conflict(r: ResourceDef, name: string, why = "the object has been modified; please apply your changes to the latest version and try again", subresource?: string): ApiError {
  const what = subresource === undefined ? qualifiedName(r) : `${qualifiedName(r)}/${subresource}`;
  return failure(409, "Conflict", `Operation cannot be fulfilled on ${what} "${name}": ${why}`, details(r, name));
}

/** Where kube-apiserver keeps the object in etcd (its default resource prefixes), as storage errors name it. */
function etcdKey(r: ResourceDef, namespace: string, name: string): string {
  const prefixes: Record<string, string> = { "/services": "services/specs", "/nodes": "minions" };
  const prefix = prefixes[`${r.group}/${r.plural}`] ?? (r.group === "" || r.group.endsWith(".k8s.io") ? r.plural : `${r.group}/${r.plural}`);
  return `/registry/${prefix}/${r.namespaced ? `${namespace}/` : ""}${name}`;
}

/** A failed delete precondition: a storage error (storage.Preconditions.Check) inside a Conflict. */
export function preconditionFailed(r: ResourceDef, namespace: string, name: string, why: string): ApiError {
  return conflict(r, name, `StorageError: invalid object, Code: 4, Key: ${etcdKey(r, namespace, name)}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: ${why}`);
}

export function invalid(r: ResourceDef, name: string, errors: readonly FieldError[]): ApiError {
  const parts = errors.map((e) => (e.field === "" ? e.detail : `${e.field}: ${e.detail}`));
  const joined = parts.length === 1 ? (parts[0] ?? "") : `[${parts.join(", ")}]`;
  const d: Obj = { name, ...(r.group === "" ? {} : { group: r.group }), kind: r.kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field })) };
  // errors.NewInvalid names the group kind: `EndpointSlice.discovery.k8s.io "x" is invalid: …`.
  const kind = r.group === "" ? r.kind : `${r.kind}.${r.group}`;
  return failure(422, "Invalid", `${kind} "${name}" is invalid: ${joined}`, d);
}

export function forbidden(r: ResourceDef, name: string, why: string, cause?: Obj): ApiError {
  const d = details(r, name);
  if (cause !== undefined) d["causes"] = [cause];
  return failure(403, "Forbidden", `${qualifiedName(r)} "${name}" is forbidden: ${why}`, d);
}

export function badRequest(message: string): ApiError {
  return failure(400, "BadRequest", message);
}

export function methodNotAllowed(message = "the server does not allow this method on the requested resource"): ApiError {
  return failure(405, "MethodNotAllowed", message, {});
}

export function pathNotFound(): ApiError {
  return failure(404, "NotFound", "the server could not find the requested resource", {});
}

export function unsupportedMediaType(patch: boolean): ApiError {
  const accepted = patch ? "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml" : "application/json";
  return failure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${accepted}`);
}

export function internalError(message: string): ApiError {
  return failure(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] });
}

export function tooOldResourceVersion(requested: number, oldest: number): Obj {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure",
    message: `too old resource version: ${requested} (${oldest})`, reason: "Expired", code: 410 };
}

/** A watch from a resourceVersion the store has not reached (after an etcd restore, say): the watch cache's answer. */
export function tooLargeResourceVersion(requested: number, current: number): Obj {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure",
    message: `Timeout: Too large resource version: ${requested}, current: ${current}`, reason: "Timeout",
    details: { causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }], retryAfterSeconds: 1 }, code: 504 };
}

export function success(r: ResourceDef, name: string, uid: string): Obj {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success",
    details: { ...details(r, name), uid } };
}
