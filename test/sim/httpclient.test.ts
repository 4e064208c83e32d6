import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { makeHttpClient, shouldRetry, type HttpClient } from "./httpclient.ts";

const ok = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";

// Each connection gets the next script; a script answers the n-th request on its connection.
type Script = (socket: Socket, requestIndex: number) => void;

interface RawServer {
  readonly port: number;
  connections: number;
  requests: number;
  close(): Promise<void>;
}

async function rawServer(scripts: readonly Script[]): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, requests: 0 };
  const server: Server = createServer((socket) => {
    const script = scripts[Math.min(state.connections, scripts.length - 1)];
    state.connections++;
    sockets.add(socket);
    let n = 0;
    let buf = "";
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      buf += chunk.toString("latin1");
      while (buf.includes("\r\n\r\n")) {
        buf = buf.slice(buf.indexOf("\r\n\r\n") + 4);
        state.requests++;
        script?.(socket, n++);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => { resolve(); });
      }),
  };
}

const answerAll: Script = (socket) => socket.write(ok);
// Serves the first request, then closes without a byte when the reused connection carries the next.
const closeOnSecond: Script = (socket, i) => (i === 0 ? socket.write(ok) : socket.destroy());
const partialOnSecond: Script = (socket, i) => {
  if (i === 0) socket.write(ok);
  else {
    socket.write("HTTP/1.1 200 OK\r\nContent-Le");
    setTimeout(() => socket.resetAndDestroy(), 20);
  }
};
const closeAtOnce: Script = (socket) => socket.destroy();

let server: RawServer | undefined;
let client: HttpClient | undefined;

afterEach(async () => {
  client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
});

async function setup(scripts: readonly Script[]): Promise<HttpClient> {
  server = await rawServer(scripts);
  client = makeHttpClient({ host: "127.0.0.1", port: server.port, timeoutMs: 5000, maxIdle: 2 });
  return client;
}

describe("the keep-alive client's retry rule", () => {
  it("retries once on a new connection when a reused connection fails before any response byte", async () => {
    const c = await setup([closeOnSecond, answerAll]);
    expect(await c.get("/", true)).toMatchObject({ ok: true, retried: false, reused: false });
    expect(await c.get("/", true)).toMatchObject({ ok: true, retried: true, reused: true });
    expect(server?.connections).toBe(2);
  });

  it("does not retry when part of the response had arrived", async () => {
    const c = await setup([partialOnSecond, answerAll]);
    await c.get("/", true);
    expect(await c.get("/", true)).toMatchObject({ ok: false, kind: "reset", retried: false });
    expect(server?.connections).toBe(1);
  });

  it("does not retry a failure on a new connection", async () => {
    const c = await setup([closeAtOnce, answerAll]);
    expect(await c.get("/", true)).toMatchObject({ ok: false, kind: "closed", retried: false, reused: false });
    expect(server?.connections).toBe(1);
  });

  it("retries at most once: a retry that fails again is a failure", async () => {
    const c = await setup([closeOnSecond, closeAtOnce]);
    await c.get("/", true);
    expect(await c.get("/", true)).toMatchObject({ ok: false, retried: true });
    expect(server?.connections).toBe(2);
    expect(server?.requests).toBe(3);
  });

  it("does not retry a 5xx answer and counts it as a failure", async () => {
    const c = await setup([(s, i) => s.write(i === 0 ? ok : "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")]);
    await c.get("/", true);
    expect(await c.get("/", true)).toMatchObject({ ok: false, kind: "http-5xx", status: 503, retried: false });
    expect(server?.requests).toBe(2);
  });

  it("reuses an idle keep-alive connection and opens a new one for Connection: close requests", async () => {
    const c = await setup([answerAll]);
    await c.get("/", true);
    await c.get("/", true);
    expect(server?.connections).toBe(1);
    await c.get("/", false);
    expect(server?.connections).toBe(2);
    expect(c.idleConnections()).toBe(1);
  });

  it("reports a refused connection as refused", async () => {
    const c = await setup([answerAll]);
    const port = server?.port ?? 0;
    await server?.close();
    server = undefined;
    const refused = makeHttpClient({ host: "127.0.0.1", port, timeoutMs: 5000, maxIdle: 2 });
    expect(await refused.get("/", false)).toMatchObject({ ok: false, kind: "refused", retried: false });
    refused.close();
    c.close();
  });

  it("the rule itself: only idempotent, reused, no response byte, first attempt", () => {
    const base = { idempotent: true, reused: true, responseBytes: 0, alreadyRetried: false };
    expect(shouldRetry(base)).toBe(true);
    expect(shouldRetry({ ...base, idempotent: false })).toBe(false);
    expect(shouldRetry({ ...base, reused: false })).toBe(false);
    expect(shouldRetry({ ...base, responseBytes: 1 })).toBe(false);
    expect(shouldRetry({ ...base, alreadyRetried: true })).toBe(false);
  });
});
