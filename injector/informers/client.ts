// Raw JSON requests through client-node's own transport (kubeconfig auth, TLS, proxies), without its
// model classes: a list page or a pod is JSON.parse'd once and handed to a transform that keeps what
// lameduck reads. client-node's typed calls deserialize every field into class instances (Dates,
// nested models), which costs several times the JSON's size at 150,000 endpoints.
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, type KubeConfig } from "@kubernetes/client-node";

/** An API answer other than 2xx, with the Status body's reason when there is one. */
export class ApiStatusError extends Error {
  override name = "ApiStatusError";
  readonly statusCode: number;
  readonly reason: string | undefined;
  constructor(message: string, statusCode: number, reason: string | undefined) {
    super(message);
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** The continue token of the next page; "" on the last. */
  readonly continueToken: string;
}

export interface ListQuery {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly limit: number;
  readonly continueToken?: string | undefined;
  /** Accept header (default application/json), e.g. for PartialObjectMetadataList. */
  readonly accept?: string;
}

export interface RawClient {
  listPage(path: string, query: ListQuery, signal?: AbortSignal): Promise<ListPage>;
  /** The object at `path`, or undefined on 404. */
  get(path: string, signal?: AbortSignal): Promise<unknown>;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The reason and message of a Status body, if the body is one. */
function statusOf(body: string): { reason: string | undefined; message: string | undefined } {
  try {
    const status = record(JSON.parse(body));
    return { reason: text(status?.["reason"]), message: text(status?.["message"]) };
  } catch {
    return { reason: undefined, message: undefined };
  }
}

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/** Authenticates requests to the current cluster. */
export interface Auth {
  /** A GET to `path` with `params`, authenticated, on the shared connection pool. */
  request(path: string, params: Readonly<Record<string, string>>): Promise<RequestContext>;
}

// How long one set of credentials and one connection pool serve. client-node builds a new undici
// Agent, so a new connection, for every request it authenticates: thousands of pod lookups during a
// mass rollout would each open one. Credentials that expire sooner (exec plugins, projected
// service-account tokens) are refreshed by client-node when asked again, well within this.
const authTtlMs = 60_000;

export function makeAuth(kc: KubeConfig): Auth {
  let current: { readonly headers: Record<string, string>; readonly dispatcher: Dispatcher | undefined; readonly expires: number } | undefined;
  let pending: Promise<NonNullable<typeof current>> | undefined;
  const fresh = async (server: string): Promise<NonNullable<typeof current>> => {
    const probe = new RequestContext(server, HttpMethod.GET);
    await kc.applySecurityAuthentication(probe);
    const previous = current;
    current = { headers: { ...probe.getHeaders() }, dispatcher: probe.getDispatcher(), expires: performance.now() + authTtlMs };
    // Requests still running on the old pool finish first.
    void previous?.dispatcher?.close().catch(() => undefined);
    return current;
  };
  return {
    async request(path, params) {
      const server = kc.getCurrentCluster()?.server;
      if (server === undefined) throw new Error("the kubeconfig has no current cluster");
      let auth = current;
      if (auth === undefined || auth.expires <= performance.now()) {
        pending ??= fresh(server).finally(() => {
          pending = undefined;
        });
        auth = await pending;
      }
      const url = new URL(server.replace(/\/+$/, "") + path);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      const ctx = new RequestContext(url.toString(), HttpMethod.GET);
      for (const [k, v] of Object.entries(auth.headers)) ctx.setHeaderParam(k, v);
      if (auth.dispatcher !== undefined) ctx.setDispatcher(auth.dispatcher);
      return ctx;
    },
  };
}

export function makeRawClient(kc: KubeConfig, auth: Auth = makeAuth(kc)): RawClient {
  const http = new IsomorphicFetchHttpLibrary();
  const request = async (path: string, params: Record<string, string>, signal: AbortSignal | undefined, accept = "application/json"): Promise<{ status: number; body: string }> => {
    const ctx = await auth.request(path, params);
    ctx.setHeaderParam("Accept", accept);
    if (signal !== undefined) ctx.setSignal(signal);
    const response = await http.send(ctx).toPromise();
    return { status: response.httpStatusCode, body: await response.body.text() };
  };
  const fail = (what: string, status: number, body: string): ApiStatusError => {
    const s = statusOf(body);
    return new ApiStatusError(`${what}: ${status}${s.message === undefined ? "" : ` ${s.message}`}`, status, s.reason);
  };
  return {
    async listPage(path, query, signal) {
      const params: Record<string, string> = { limit: String(query.limit) };
      if (query.labelSelector !== undefined) params["labelSelector"] = query.labelSelector;
      if (query.fieldSelector !== undefined) params["fieldSelector"] = query.fieldSelector;
      if (query.continueToken !== undefined && query.continueToken !== "") params["continue"] = query.continueToken;
      const { status, body } = await request(path, params, signal, query.accept);
      if (status !== 200) throw fail(`list ${path}`, status, body);
      const list = record(JSON.parse(body));
      const items = list?.["items"];
      const meta = record(list?.["metadata"]);
      return {
        items: Array.isArray(items) ? items : [],
        resourceVersion: text(meta?.["resourceVersion"]) ?? "",
        continueToken: text(meta?.["continue"]) ?? "",
      };
    },
    async get(path, signal) {
      const { status, body } = await request(path, {}, signal);
      if (status === 404) return undefined;
      if (status !== 200) throw fail(`get ${path}`, status, body);
      return JSON.parse(body) as unknown;
    },
  };
}
