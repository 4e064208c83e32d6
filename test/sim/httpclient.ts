// A minimal HTTP/1.1 GET client on node:net with explicit connection management, so that the retry
// rule of Go's net/http Transport and of browsers is applied exactly: a request that fails on a
// REUSED keep-alive connection before any byte of the response has arrived is retried once on a new
// connection (RFC 9112 §9.3.1 lets a server close an idle persistent connection at any moment, so the
// client cannot know whether the request was seen). Nothing else is retried.
import { connect, type Socket } from "node:net";

export const FailureKind = {
  refused: "refused",
  reset: "reset",
  timeout: "timeout",
  closed: "closed",
  http5xx: "http-5xx",
  malformed: "malformed",
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

export type Outcome =
  | { readonly ok: true; readonly status: number; readonly retried: boolean; readonly reused: boolean }
  | { readonly ok: false; readonly kind: FailureKind; readonly status?: number; readonly retried: boolean; readonly reused: boolean };

export interface RetryFacts {
  readonly idempotent: boolean;
  readonly reused: boolean;
  readonly responseBytes: number;
  readonly alreadyRetried: boolean;
}

export function shouldRetry(facts: RetryFacts): boolean {
  return facts.idempotent && facts.reused && facts.responseBytes === 0 && !facts.alreadyRetried;
}

type Attempt =
  | { readonly type: "response"; readonly status: number; readonly keepAlive: boolean }
  | { readonly type: "error"; readonly kind: FailureKind; readonly responseBytes: number };

interface ClientConn {
  readonly served: number;
  readonly open: boolean;
  get(path: string, keepAlive: boolean): Promise<Attempt>;
  destroy(): void;
}

const maxHeaderBytes = 16 * 1024;

function kindOf(err: NodeJS.ErrnoException): FailureKind {
  if (err.code === "ECONNREFUSED") return FailureKind.refused;
  if (err.code === "ETIMEDOUT") return FailureKind.timeout;
  return FailureKind.reset;
}

interface Parsed {
  readonly status: number;
  readonly keepAlive: boolean;
  readonly total: number;
}

// Parses one response head; the simulation's servers always send Content-Length.
function parseHead(buf: Buffer): Parsed | "incomplete" | "malformed" {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return buf.length > maxHeaderBytes ? "malformed" : "incomplete";
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!match) return "malformed";
  let length = -1;
  let keepAlive = true;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === "content-length") length = Number(value);
    if (name === "connection" && value === "close") keepAlive = false;
  }
  if (!Number.isInteger(length) || length < 0) return "malformed";
  return { status: Number(match[1]), keepAlive, total: end + 4 + length };
}

function dial(host: string, port: number, timeoutMs: number): ClientConn {
  const socket: Socket = connect({ host, port, noDelay: true });
  let served = 0;
  let open = true;
  let pending: ((a: Attempt) => void) | undefined;
  let received = Buffer.alloc(0);
  const fail = (kind: FailureKind): void => {
    open = false;
    const done = pending;
    pending = undefined;
    done?.({ type: "error", kind, responseBytes: received.length });
    socket.destroy();
  };
  socket.on("error", (err: NodeJS.ErrnoException) => { fail(kindOf(err)); });
  socket.on("end", () => { fail(FailureKind.closed); });
  socket.on("close", () => { fail(FailureKind.closed); });
  socket.on("timeout", () => { fail(FailureKind.timeout); });
  socket.on("data", (chunk: Buffer) => {
    if (!pending) {
      // Bytes while idle break HTTP/1.1 framing; the connection cannot be reused.
      fail(FailureKind.malformed);
      return;
    }
    received = Buffer.concat([received, chunk]);
    const head = parseHead(received);
    if (head === "incomplete") return;
    if (head === "malformed") {
      fail(FailureKind.malformed);
      return;
    }
    if (received.length < head.total) return;
    const done = pending;
    pending = undefined;
    received = Buffer.alloc(0);
    served++;
    socket.setTimeout(0);
    if (!head.keepAlive) {
      open = false;
      socket.end();
    }
    done({ type: "response", status: head.status, keepAlive: head.keepAlive });
  });
  return {
    get served() {
      return served;
    },
    get open() {
      return open;
    },
    get(path, keepAlive) {
      return new Promise<Attempt>((resolve) => {
        if (!open) {
          resolve({ type: "error", kind: FailureKind.closed, responseBytes: 0 });
          return;
        }
        pending = resolve;
        received = Buffer.alloc(0);
        socket.setTimeout(timeoutMs);
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${String(port)}\r\nConnection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n`);
      });
    },
    destroy() {
      open = false;
      socket.destroy();
    },
  };
}

export interface HttpClient {
  /** One GET; keepAlive: take an idle pooled connection if there is one and return it afterwards. */
  get(path: string, keepAlive: boolean): Promise<Outcome>;
  idleConnections(): number;
  close(): void;
}

export interface HttpClientOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Go's DefaultMaxIdleConnsPerHost is 2; more idle connections than this are closed. */
  readonly maxIdle: number;
}

export function makeHttpClient(options: HttpClientOptions): HttpClient {
  const idle: ClientConn[] = [];
  const all = new Set<ClientConn>();
  const fresh = (): ClientConn => {
    const conn = dial(options.host, options.port, options.timeoutMs);
    all.add(conn);
    return conn;
  };
  const takeIdle = (): ClientConn | undefined => {
    for (let conn = idle.pop(); conn; conn = idle.pop()) if (conn.open) return conn;
    return undefined;
  };
  const settle = (conn: ClientConn, attempt: Attempt, keepAlive: boolean): void => {
    const reusable = keepAlive && attempt.type === "response" && attempt.keepAlive && conn.open;
    if (reusable && idle.length < options.maxIdle) idle.push(conn);
    else {
      conn.destroy();
      all.delete(conn);
    }
  };
  const once = async (conn: ClientConn, path: string, keepAlive: boolean): Promise<Attempt> => {
    const attempt = await conn.get(path, keepAlive);
    settle(conn, attempt, keepAlive);
    return attempt;
  };
  const outcome = (attempt: Attempt, retried: boolean, reused: boolean): Outcome => {
    if (attempt.type === "error") return { ok: false, kind: attempt.kind, retried, reused };
    if (attempt.status >= 500) return { ok: false, kind: FailureKind.http5xx, status: attempt.status, retried, reused };
    return { ok: true, status: attempt.status, retried, reused };
  };
  return {
    async get(path, keepAlive) {
      const conn = (keepAlive ? takeIdle() : undefined) ?? fresh();
      const reused = conn.served > 0;
      const first = await once(conn, path, keepAlive);
      const facts = { idempotent: true, reused, responseBytes: first.type === "error" ? first.responseBytes : 1, alreadyRetried: false };
      if (first.type === "response" || !shouldRetry(facts)) return outcome(first, false, reused);
      return outcome(await once(fresh(), path, keepAlive), true, reused);
    },
    idleConnections: () => idle.filter((c) => c.open).length,
    close() {
      for (const conn of all) conn.destroy();
      all.clear();
      idle.length = 0;
    },
  };
}
