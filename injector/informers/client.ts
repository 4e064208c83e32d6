// Raw JSON requests to the API server over node:http(s) with one keep-alive connection pool: the
// informers' list pages and watches and the oracle's pod lookups. Credentials and TLS come from the
// kubeconfig through client-node (applyToHTTPSOptions: tokens, exec plugins, client certificates,
// CA). Not client-node's typed calls: they deserialize every field into class instances, several
// times the JSON's size at 150,000 endpoints; and not its fetch transport: it builds a new connection
// pool for every request it authenticates, and its per-request garbage, thousands of pod lookups in
// a burst of hooks, stayed in the heap (the controller's RSS went from 265 to 466 MB in the bench).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

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

/** GET requests to the current cluster, authenticated, on one keep-alive pool. */
export interface Transport {
  /** The response, once its status and headers arrived. */
  open(path: string, params: Readonly<Record<string, string>>, accept: string, signal?: AbortSignal): Promise<IncomingMessage>;
}

// How long one set of credentials serves before it is asked for again: client-node refreshes a
// token that is about to expire (exec plugins, projected service-account tokens) when asked.
const authTtlMs = 60_000;

export function makeTransport(kc: KubeConfig): Transport {
  let current: { readonly options: RequestOptions; readonly agent: RequestOptions["agent"]; readonly expires: number; readonly tls: string } | undefined;
  let pending: Promise<NonNullable<typeof current>> | undefined;
  const refresh = async (secure: boolean, proxied: boolean): Promise<NonNullable<typeof current>> => {
    const options: RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = options;
    const tls = JSON.stringify([ca, cert, key, pfx, passphrase, rejectUnauthorized, servername]);
    // client-node's agent when a proxy is configured; otherwise one that keeps connections open,
    // replaced only when the TLS material changes.
    const agent = proxied
      ? options.agent
      : current !== undefined && current.tls === tls
        ? current.agent
        : secure
          ? new HttpsAgent({ keepAlive: true, timeout: 60_000, ca, cert, key, pfx, passphrase, servername, ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }) })
          : new HttpAgent({ keepAlive: true, timeout: 60_000 });
    current = { options, agent, expires: performance.now() + authTtlMs, tls };
    return current;
  };
  return {
    async open(path, params, accept, signal) {
      const cluster = kc.getCurrentCluster();
      if (cluster === null) throw new Error("the kubeconfig has no current cluster");
      const secure = cluster.server.startsWith("https:");
      let auth = current;
      if (auth === undefined || auth.expires <= performance.now()) {
        pending ??= refresh(secure, cluster.proxyUrl !== undefined && cluster.proxyUrl !== "").finally(() => {
          pending = undefined;
        });
        auth = await pending;
      }
      const url = new URL(cluster.server.replace(/\/+$/, "") + path);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      const { agent, options } = auth;
      const base: OutgoingHttpHeaders = options.headers !== undefined && !Array.isArray(options.headers) ? (options.headers as OutgoingHttpHeaders) : {};
      return new Promise((resolve, reject) => {
        const req = (secure ? httpsRequest : httpRequest)(
          url,
          {
            method: "GET",
            headers: { ...base, Accept: accept },
            ...(agent === undefined ? {} : { agent }),
            ...(options.auth === undefined || options.auth === null ? {} : { auth: options.auth }),
            ...(signal === undefined ? {} : { signal }),
          },
          resolve,
        );
        req.on("error", reject);
        req.end();
      });
    },
  };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => {
      resolve(chunks.length === 1 ? (chunks[0] ?? Buffer.alloc(0)).toString("utf8") : Buffer.concat(chunks).toString("utf8"));
    });
    res.on("error", reject);
  });
}

/** An error naming what was attempted, with the Status body's message and reason when there is one. */
export function statusError(what: string, status: number, body: string): ApiStatusError {
  let reason: string | undefined;
  let message: string | undefined;
  try {
    const s = record(JSON.parse(body));
    reason = text(s?.["reason"]);
    message = text(s?.["message"]);
  } catch {
    // not a Status body
  }
  return new ApiStatusError(`${what}: ${status}${message === undefined ? "" : ` ${message}`}`, status, reason);
}

export function makeRawClient(kc: KubeConfig, transport: Transport = makeTransport(kc)): RawClient {
  const request = async (path: string, params: Record<string, string>, signal: AbortSignal | undefined, accept = "application/json"): Promise<{ status: number; body: string }> => {
    const res = await transport.open(path, params, accept, signal);
    return { status: res.statusCode ?? 0, body: await readBody(res) };
  };
  return {
    async listPage(path, query, signal) {
      const params: Record<string, string> = { limit: String(query.limit) };
      if (query.labelSelector !== undefined) params["labelSelector"] = query.labelSelector;
      if (query.fieldSelector !== undefined) params["fieldSelector"] = query.fieldSelector;
      if (query.continueToken !== undefined && query.continueToken !== "") params["continue"] = query.continueToken;
      const { status, body } = await request(path, params, signal, query.accept);
      if (status !== 200) throw statusError(`list ${path}`, status, body);
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
      if (status !== 200) throw statusError(`get ${path}`, status, body);
      return JSON.parse(body) as unknown;
    },
  };
}
