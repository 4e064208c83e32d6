// HTTP routing: paths to resources, query parameters to verbs, faults, the request log, and
// Status bodies for every error.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Api, DeleteOptions, RequestContext } from "./api.ts";
import type { Faults, RequestInfo } from "./faults.ts";
import type { Obj } from "./objects.ts";
import { isObj, num, obj, omit, str } from "./objects.ts";
import { findResource } from "./resources.ts";
import type { ResourceDef } from "./resources.ts";
import { parseLabelSelector } from "./labels.ts";
import { parseFieldSelector } from "./fields.ts";
import { ApiError, badRequest, internalError, methodNotAllowed, pathNotFound, success, unsupportedMediaType } from "./status.ts";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from "./discovery.ts";
import { checkWatch, serveWatch } from "./watch.ts";
import type { WatchDeps } from "./watch.ts";
import { parsePatchBody, PatchType } from "./patch.ts";
import { toTable } from "./table.ts";

export interface RecordedRequest extends RequestInfo {
  readonly method: string;
  readonly path: string;
  readonly userAgent: string;
  readonly code: number;
}

export interface ServerDeps extends WatchDeps {
  readonly api: Api;
  readonly faults: Faults;
  readonly gitVersion: string;
  readonly serverAddress: () => string;
  readonly log: RecordedRequest[];
  /** Resolves when the server shuts down, releasing stalled requests. */
  readonly closing: Promise<void>;
}

const maxBody = 8 * 1024 * 1024;
const admin: RequestContext["user"] = { username: "admin", uid: "admin-uid", groups: ["system:masters", "system:authenticated"] };

interface Route {
  readonly res: ResourceDef;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
  readonly legacyWatch: boolean;
}

function discovery(segs: string[], deps: ServerDeps): Obj | undefined {
  if (segs.length === 1 && segs[0] === "version") return versionInfo(deps.gitVersion);
  if (segs[0] === "api" && segs.length === 1) return apiVersions(deps.serverAddress());
  if (segs[0] === "api" && segs.length === 2) return apiResourceList(segs[1] ?? "");
  if (segs[0] === "apis" && segs.length === 1) return apiGroupList();
  if (segs[0] === "apis" && segs.length === 2) return apiGroup(segs[1] ?? "");
  if (segs[0] === "apis" && segs.length === 3) return apiResourceList(`${segs[1] ?? ""}/${segs[2] ?? ""}`);
  return undefined;
}

function route(segs: string[]): Route | undefined {
  let group: string;
  let rest: string[];
  let version: string;
  if (segs[0] === "api") {
    group = "";
    version = segs[1] ?? "";
    rest = segs.slice(2);
  } else if (segs[0] === "apis") {
    group = segs[1] ?? "";
    version = segs[2] ?? "";
    rest = segs.slice(3);
  } else {
    return undefined;
  }
  const legacyWatch = rest[0] === "watch";
  if (legacyWatch) rest = rest.slice(1);
  if (rest[0] === "namespaces" && rest.length >= 3) {
    const r = findResource(group, version, rest[2] ?? "");
    if (r?.namespaced === true) return { res: r, namespace: rest[1], name: rest[3], subresource: rest[4], legacyWatch };
  }
  const r = findResource(group, version, rest[0] ?? "");
  if (r === undefined || rest.length > 3) return undefined;
  return { res: r, namespace: undefined, name: rest[1], subresource: rest[2], legacyWatch };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBody) reject(new ApiError(413, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Request entity too large: limit is 3145728", reason: "RequestEntityTooLarge", code: 413 }));
      else chunks.push(c);
    });
    req.on("end", () => { resolve(Buffer.concat(chunks).toString("utf8")); });
    req.on("error", reject);
  });
}

function parseJson(text: string): Obj {
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw badRequest(`the object provided is unrecognized: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObj(parsed)) throw badRequest("the object provided is not a JSON object");
  return parsed;
}

function verbOf(method: string, rt: Route, watch: boolean): string {
  switch (method) {
    case "GET": return watch || rt.legacyWatch ? "watch" : rt.name === undefined ? "list" : "get";
    case "POST": return "create";
    case "PUT": return "update";
    case "PATCH": return "patch";
    case "DELETE": return rt.name === undefined ? "deletecollection" : "delete";
    default: return method.toLowerCase();
  }
}

// Stored objects are never mutated (every write stores a new object), so their JSON can be cached
// by identity: a relist of 10,000 unchanged pods then costs a string join, not 10,000 encodings.
const jsonCache = new WeakMap<object, string>();

function encode(o: unknown): string {
  if (!isObj(o)) return JSON.stringify(o);
  let text = jsonCache.get(o);
  if (text === undefined) {
    text = JSON.stringify(o);
    jsonCache.set(o, text);
  }
  return text;
}

function toJson(body: Obj): string {
  const items = body["items"];
  if (!Array.isArray(items)) return JSON.stringify(body);
  const rest = omit(body, ["items"]);
  return `${JSON.stringify(rest).slice(0, -1)},"items":[${items.map(encode).join(",")}]}`;
}

function send(res: ServerResponse, code: number, body: Obj): void {
  const text = toJson(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-cache, private" });
  res.end(text);
}

export function makeHandler(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(deps, req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, internalError(e instanceof Error ? e.message : String(e)).body);
    });
  };
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://fake");
  const segs = url.pathname.split("/").filter((s) => s !== "").map(decodeURIComponent);
  const q = url.searchParams;
  const method = req.method ?? "GET";
  const rt = route(segs);
  const watch = q.get("watch") === "true" || q.get("watch") === "1";
  const info: RequestInfo = rt === undefined ? { verb: method.toLowerCase(), resource: "" } : {
    verb: verbOf(method, rt, watch), resource: rt.res.plural,
    ...(rt.subresource === undefined ? {} : { subresource: rt.subresource }),
    ...(rt.namespace === undefined ? {} : { namespace: rt.namespace }),
    ...(rt.name === undefined ? {} : { name: rt.name }),
  };
  const logAs = (code: number): void => {
    deps.log.push({ ...info, method, path: url.pathname, userAgent: req.headers["user-agent"] ?? "", code });
  };
  try {
    const text = await readBody(req);
    const decision = deps.faults.decide(info);
    if (decision.stall !== undefined) await Promise.race([decision.stall, deps.closing]);
    if (decision.delayMs > 0) await new Promise((r) => { setTimeout(r, decision.delayMs); });
    if (decision.fail) throw internalError("injected fault");
    if (method === "GET" && segs.length === 1 && ["healthz", "readyz", "livez"].includes(segs[0] ?? "")) {
      logAs(200);
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" }).end("ok");
      return;
    }
    if (method === "GET" && rt === undefined) {
      const doc = discovery(segs, deps);
      if (doc === undefined) throw pathNotFound();
      logAs(200);
      send(res, 200, doc);
      return;
    }
    if (rt === undefined) throw pathNotFound();
    const namespace = rt.namespace ?? "";
    const warnings: string[] = [];
    const options: Record<string, string> = {};
    for (const k of ["fieldManager", "fieldValidation"]) {
      const v = q.get(k);
      if (v !== null && v !== "") options[k] = v;
    }
    const ctx: RequestContext = { dryRun: q.getAll("dryRun").includes("All"), user: admin, options, warn: (m) => { warnings.push(m); } };
    const label = parseLabelSelector(q.get("labelSelector") ?? "");
    const field = parseFieldSelector(q.get("fieldSelector") ?? "", rt.res);
    const matches = (o: Obj): boolean => label(o) && field(o);
    if (info.verb === "watch") {
      const w = { res: rt.res, namespace: rt.namespace, matches, resourceVersion: q.get("resourceVersion") ?? undefined,
        allowBookmarks: q.get("allowWatchBookmarks") === "true", sendInitialEvents: q.has("sendInitialEvents") ? q.get("sendInitialEvents") === "true" : undefined,
        timeoutSeconds: q.has("timeoutSeconds") ? Number(q.get("timeoutSeconds")) : undefined,
        ...(wantsMetadata(req, "PartialObjectMetadata") ? { project: partialObjectMetadata } : {}) };
      checkWatch(w);
      logAs(200);
      serveWatch(deps, w, res);
      return;
    }
    const [code, body] = await dispatch(deps, rt, info.verb, namespace, q, req, text, ctx, matches);
    logAs(code);
    // Warnings travel as RFC 7234 Warning headers with code 299, as the real server sends them.
    if (warnings.length > 0) res.setHeader("Warning", warnings.map((w) => `299 - ${JSON.stringify(w)}`));
    send(res, code, wantsTable(req) && (info.verb === "list" || info.verb === "get") ? tableOf(rt.res, body)
      : info.verb === "list" && wantsMetadata(req, "PartialObjectMetadataList") ? partialObjectMetadataList(body) : body);
  } catch (e) {
    const err = e instanceof ApiError ? e : internalError(e instanceof Error ? e.message : String(e));
    logAs(err.code);
    send(res, err.code, err.body);
  }
}

function wantsTable(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").includes("as=Table");
}

// Metadata-only lists and watches, as metadata informers ask for them (Accept:
// application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1 for a list, as=PartialObjectMetadata
// for a watch's events). Only the JSON form, only v1.
function wantsMetadata(req: IncomingMessage, kind: string): boolean {
  return (req.headers.accept ?? "").split(",").some((part) => part.includes(`as=${kind};`) && part.includes("g=meta.k8s.io"));
}

function partialObjectMetadata(o: Obj): Obj {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o["metadata"] };
}

function partialObjectMetadataList(body: Obj): Obj {
  const items = Array.isArray(body["items"]) ? body["items"].filter(isObj) : [];
  return { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata: body["metadata"], items: items.map(partialObjectMetadata) };
}

function tableOf(r: ResourceDef, body: Obj): Obj {
  const items = Array.isArray(body["items"]) ? body["items"].filter(isObj) : [body];
  return toTable(r, items, str(obj(body["metadata"])["resourceVersion"]) ?? "");
}

function deleteOptions(q: URLSearchParams, body: Obj): DeleteOptions {
  const grace = q.has("gracePeriodSeconds") ? Number(q.get("gracePeriodSeconds")) : num(body["gracePeriodSeconds"]);
  const pre = obj(body["preconditions"]);
  const uid = str(pre["uid"]);
  const resourceVersion = str(pre["resourceVersion"]);
  const preconditions = { ...(uid === undefined ? {} : { uid }), ...(resourceVersion === undefined ? {} : { resourceVersion }) };
  return { ...(grace === undefined || Number.isNaN(grace) ? {} : { gracePeriodSeconds: grace }), preconditions };
}

async function dispatch(deps: ServerDeps, rt: Route, verb: string, namespace: string, q: URLSearchParams, req: IncomingMessage,
  text: string, ctx: RequestContext, matches: (o: Obj) => boolean): Promise<[number, Obj]> {
  const { api } = deps;
  const name = rt.name ?? "";
  const sub = rt.subresource;
  const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim() ?? "";
  // Typed client-go clients (kubectl create namespace, kubectl run) send protobuf; the fake speaks JSON only.
  if (contentType.includes("protobuf")) throw unsupportedMediaType(verb === "patch");
  switch (verb) {
    case "get":
      if (sub !== undefined && sub !== "status") throw methodNotAllowed();
      return [200, api.get(rt.res, namespace, name)];
    case "list": {
      const limit = q.has("limit") ? Number(q.get("limit")) : undefined;
      const filtered = (q.get("labelSelector") ?? "") !== "" || (q.get("fieldSelector") ?? "") !== "";
      return [200, api.list(rt.res, rt.namespace, { matches, filtered, ...(limit === undefined ? {} : { limit }), ...(q.has("continue") ? { continueToken: q.get("continue") ?? "" } : {}) })];
    }
    case "create": {
      const body = parseJson(text);
      if (sub === "binding" && rt.res.plural === "pods") return [201, api.bind(namespace, name, body, ctx)];
      if (sub === "eviction" && rt.res.plural === "pods") {
        const opts = obj(body["deleteOptions"]);
        api.remove(rt.res, namespace, name, deleteOptions(new URLSearchParams(), opts), ctx);
        return [201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 }];
      }
      if (rt.name !== undefined) throw methodNotAllowed();
      return [201, await api.create(rt.res, namespace, body, ctx)];
    }
    case "update":
      return [200, api.update(rt.res, namespace, name, parseJson(text), sub, ctx)];
    case "patch": {
      if (contentType === PatchType.apply && (q.get("fieldManager") ?? "") === "") {
        throw new ApiError(422, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure",
          message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
          reason: "Invalid", details: { group: "meta.k8s.io", kind: "PatchOptions", causes: [{ reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager" }] }, code: 422 });
      }
      return [200, await api.patch(rt.res, namespace, name, contentType, parsePatchBody(contentType, text), sub, ctx)];
    }
    case "delete": {
      const body = parseJson(text);
      const dryRun = ctx.dryRun || (Array.isArray(body["dryRun"]) && body["dryRun"].includes("All"));
      return [200, api.remove(rt.res, namespace, name, deleteOptions(q, body), { ...ctx, dryRun })];
    }
    case "deletecollection": {
      const body = parseJson(text);
      const list = api.list(rt.res, rt.namespace, { matches });
      const items = Array.isArray(list["items"]) ? list["items"].filter(isObj) : [];
      for (const o of items) api.remove(rt.res, str(obj(o["metadata"])["namespace"]) ?? "", str(obj(o["metadata"])["name"]) ?? "", deleteOptions(q, body), ctx);
      return [200, rt.res.returnsDeleted ? list : success(rt.res, "", "")];
    }
    default:
      throw methodNotAllowed();
  }
}
