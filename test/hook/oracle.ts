// A scripted drain oracle on a loopback port, speaking raw TCP so that tests can also misbehave in
// ways an HTTP library would not allow: silence, trickled bytes, garbage, oversized answers.
import { createServer, type Socket } from "node:net";

export type Reply =
  /** A well-formed HTTP/1.1 response with Content-Length, after an optional long-poll delay. */
  | { readonly kind: "answer"; readonly body: string; readonly status?: number; readonly delayMs?: number }
  /** These bytes, then close. */
  | { readonly kind: "raw"; readonly data: string }
  /** Accept and read the request, never answer. */
  | { readonly kind: "silent" }
  /** One byte of `data` every `intervalMs`, cycling forever: a slow-loris server. */
  | { readonly kind: "trickle"; readonly data: string; readonly intervalMs: number };

export interface OracleRequest {
  readonly requestLine: string;
  readonly path: string;
  readonly uid: string | undefined;
  readonly wait: number | undefined;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** performance.now() when the request was complete. */
  readonly at: number;
}

export interface TestOracle {
  /** HOST:PORT as the hook's --oracle takes it. */
  readonly address: string;
  readonly port: number;
  readonly requests: readonly OracleRequest[];
  close(): Promise<void>;
}

export type Script = (request: OracleRequest, index: number) => Reply;

/** A script that answers from a list, repeating its last entry. */
export function sequence(...replies: readonly Reply[]): Script {
  return (_request, index) => {
    const reply = replies[Math.min(index, replies.length - 1)];
    if (reply === undefined) throw new Error("sequence() needs at least one reply");
    return reply;
  };
}

export function answer(body: string, delayMs = 0, status = 200): Reply {
  return { kind: "answer", body, status, delayMs };
}

const statusText: Readonly<Record<number, string>> = { 200: "OK", 404: "Not Found", 503: "Service Unavailable" };

export function httpResponse(status: number, body: string): string {
  return (
    `HTTP/1.1 ${status} ${statusText[status] ?? "Status"}\r\n` +
    `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

function parseRequest(head: string, at: number): OracleRequest {
  const [requestLine = "", ...headerLines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const path = requestLine.split(" ")[1] ?? "";
  const match = /^\/v1\/pods\/([^/]+)\/drain\?wait=(\d+)$/.exec(path);
  return { requestLine, path, uid: match?.[1], wait: match?.[2] === undefined ? undefined : Number(match[2]), headers, at };
}

export async function startTestOracle(script: Script, host = "127.0.0.1"): Promise<TestOracle> {
  const requests: OracleRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, action: () => void, repeat = false): void => {
    const timer = repeat ? setInterval(action, ms) : setTimeout(() => { timers.delete(timer); action(); }, ms);
    timers.add(timer);
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => { /* the hook hung up: expected when it gives up */ });
    let head = "";
    let handled = false;
    socket.on("data", (chunk: Buffer) => {
      if (handled) return;
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      handled = true;
      const request = parseRequest(head.slice(0, end), performance.now());
      const reply = script(request, requests.length);
      requests.push(request);
      respond(socket, reply);
    });
  });

  function respond(socket: Socket, reply: Reply): void {
    switch (reply.kind) {
      case "answer":
        later(reply.delayMs ?? 0, () => socket.end(httpResponse(reply.status ?? 200, reply.body)));
        return;
      case "raw":
        socket.end(reply.data);
        return;
      case "silent":
        return;
      case "trickle": {
        let i = 0;
        later(reply.intervalMs, () => {
          if (!socket.destroyed) socket.write(reply.data.charAt(i++ % reply.data.length));
        }, true);
        return;
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("test oracle: no TCP address");
  const port = address.port;
  return {
    address: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    port,
    requests,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    },
  };
}

/** A loopback port that refuses connections: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("closedPort: no TCP address");
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  return address.port;
}
