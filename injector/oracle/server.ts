// The oracle's HTTP face: GET /v1/pods/<uid>/drain?wait=<seconds>, one request per connection.
// Plain node:http; every limit that lets a slow or idle client hold a socket is set explicitly.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.ts";
import { WaitOutcome, type Oracle, type Reply } from "./oracle.ts";
import { formatAnswer } from "./state.ts";

export interface OracleServerDeps {
  readonly oracle: Oracle;
  /** False until the EndpointSlice cache is synced: answers are 503 until then. */
  readonly isSynced: () => boolean;
  readonly nodeAddress: (nodeName: string) => string | undefined;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** Bound on open sockets (held waits plus connections still sending their request). */
  readonly maxConnections: number;
}

export interface OracleServer {
  readonly port: number;
  /** Stops accepting, answers every held request with its current state, closes the sockets. */
  close(): Promise<void>;
}

/** The protocol caps a wait at 30 s. */
export const maxWaitSeconds = 30;

const path = /^\/v1\/pods\/([^/]+)\/drain$/;
// Pod UIDs are RFC 4122 UUIDs; the hook sends at most 64 of [A-Za-z0-9_-], so nothing else is one.
const uidPattern = /^[0-9A-Za-z_-]{1,64}$/;
const waitPattern = /^\d{1,6}(\.\d{1,3})?$/;

export type ParsedRequest = { ok: true; uid: string; waitMs: number } | { ok: false; status: 400 | 404 | 405; message: string };

export function parseDrainRequest(method: string | undefined, url: string | undefined): ParsedRequest {
  const target = new URL(url ?? "/", "http://oracle");
  const match = path.exec(target.pathname);
  if (match === null) return { ok: false, status: 404, message: "not found: use GET /v1/pods/<uid>/drain?wait=<seconds>" };
  if (method !== "GET") return { ok: false, status: 405, message: "method not allowed: use GET" };
  const uid = decodeURIComponent(match[1] ?? "");
  if (!uidPattern.test(uid)) return { ok: false, status: 400, message: `bad pod uid "${uid.slice(0, 80)}"` };
  const wait = target.searchParams.get("wait") ?? "0";
  if (!waitPattern.test(wait)) return { ok: false, status: 400, message: `bad wait "${wait.slice(0, 20)}": seconds, at most ${maxWaitSeconds}` };
  return { ok: true, uid, waitMs: Math.round(Math.min(Number(wait), maxWaitSeconds) * 1000) };
}

/** The client's address, one key per host: an IPv4 client on a dual-stack socket is the same client. */
export function clientKey(address: string | undefined): string {
  if (address === undefined) return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

function send(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body), Connection: "close" });
  res.end(body);
}

export async function startOracleServer(deps: OracleServerDeps): Promise<OracleServer> {
  const { oracle } = deps;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let parsed: ParsedRequest;
    try {
      parsed = parseDrainRequest(req.method, req.url);
    } catch {
      parsed = { ok: false, status: 400, message: "bad request" };
    }
    if (!parsed.ok) {
      oracle.count(WaitOutcome.invalid);
      send(res, parsed.status, `${parsed.message}\n`);
      return;
    }
    if (!deps.isSynced()) {
      oracle.count(WaitOutcome.unsynced);
      send(res, 503, "not ready: EndpointSlice cache not synced\n");
      return;
    }
    const reply = (r: Reply): void => {
      if (r.kind === "refused") {
        send(res, 503, `${r.message}\n`);
        return;
      }
      const node = r.answer.nodeName === undefined ? undefined : deps.nodeAddress(r.answer.nodeName);
      send(res, 200, formatAnswer(r.answer, node));
    };
    const client = clientKey(req.socket.remoteAddress);
    const held = oracle.ask(parsed.uid, parsed.waitMs, client, reply);
    if (held === "busy") {
      send(res, 503, "busy: too many waits\n");
      return;
    }
    if (held === "client-busy") {
      send(res, 503, `busy: too many waits from ${client}\n`);
      return;
    }
    // "close" also fires after a normal answer; cancel is then a no-op.
    res.on("close", () => {
      held.cancel();
    });
  };

  const server = createServer(
    {
      // A request is one short line of headers: anything slower or bigger is not a hook.
      headersTimeout: 5_000,
      requestTimeout: 10_000,
      maxHeaderSize: 4096,
      // How often the two timeouts above are enforced (default 30 s).
      connectionsCheckingInterval: 1_000,
      keepAlive: false,
    },
    handle,
  );
  server.maxRequestsPerSocket = 1;
  server.maxHeadersCount = 32;
  server.maxConnections = deps.maxConnections;
  // Held sockets are quiet by design for up to 30 s; the request timeouts bound the rest.
  server.timeout = 0;
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // Thousands of hooks can connect in the same second during a mass rollout.
    server.listen({ host: deps.host, port: deps.port, backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  deps.logger.info({ port }, "drain oracle listening");

  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => { resolve(); }));
      oracle.releaseAll();
      server.closeIdleConnections();
      const timer = setTimeout(() => { server.closeAllConnections(); }, 2_000);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
