// The webhook's bounds under attack, on loopback with tightened limits: bodies held across
// connections, too many connections, handshakes that never come, connections that never ask.
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { Agent, type Server } from "node:https";
import { connect as tcpConnect, type AddressInfo } from "node:net";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { makeWebhookServer, type WebhookLimits } from "../../injector/admission/server.ts";
import { silentLogger } from "../../injector/log.ts";
import { makeTestReviewer } from "../support/admission.ts";
import { httpsRequest, testPki } from "../support/https.ts";

const recorded = readFileSync(join(import.meta.dirname, "..", "fixtures", "real", "admission-deployment-pod.json"), "utf8");
const KiB = 1024;

interface Running {
  readonly port: number;
  readonly ca: string;
  metric(name: string, reason?: string): Promise<number>;
}

const servers: Server[] = [];
const sockets: TLSSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => {
    server.close(() => { resolve(); });
    server.closeAllConnections();
  })));
});

async function start(limits: Partial<WebhookLimits>): Promise<Running> {
  const pki = await testPki();
  const { review, metrics, registry } = makeTestReviewer();
  const server = makeWebhookServer({ tls: pki.serving, review, metrics, logger: silentLogger, limits });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    ca: pki.ca.cert,
    async metric(name, reason) {
      const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
      return values.filter((v) => reason === undefined || v.labels["reason"] === reason).reduce((sum, v) => sum + v.value, 0);
    },
  };
}

/** Resolves when the socket has closed, whether or not it failed first (events.once rejects on "error"). */
function closed(socket: { once(event: "close", listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => { socket.once("close", () => { resolve(); }); });
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A TLS connection that sends a review's headers and `bytes` of a body declared `declared` long, and holds. */
async function holdUpload(running: Running, declared: number, bytes: number): Promise<{ socket: TLSSocket; response: () => string; closed: Promise<void> }> {
  const socket = connect({ host: "127.0.0.1", port: running.port, ca: running.ca, servername: "localhost" });
  sockets.push(socket);
  socket.on("error", () => undefined);
  let response = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (response += chunk));
  const ended = closed(socket);
  await once(socket, "secureConnect");
  socket.write(`POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`);
  socket.write(Buffer.alloc(bytes, 0x20));
  return { socket, response: () => response, closed: ended };
}

describe("the webhook's limits", () => {
  it("holds no more body bytes than its budget: the largest upload gives way with 503, Retry-After and Connection: close, and a review still gets through", async () => {
    const running = await start({ maxBodyBytes: 256 * KiB, bodyBudgetBytes: 512 * KiB });
    const held = (): Promise<number> => running.metric("lameduck_admission_body_bytes_held");
    const a = await holdUpload(running, 250 * KiB, 200 * KiB);
    await until("a's bytes held", async () => (await held()) === 200 * KiB);
    const b = await holdUpload(running, 250 * KiB, 200 * KiB);
    await until("b's bytes held", async () => (await held()) === 400 * KiB);
    // c pushes the total past 512 KiB: a, the oldest of the largest, gives way; then d does the same to b.
    const c = await holdUpload(running, 250 * KiB, 200 * KiB);
    await a.closed;
    await until("c's bytes held", async () => (await held()) === 400 * KiB);
    const d = await holdUpload(running, 250 * KiB, 200 * KiB);
    await b.closed;
    await until("d's bytes held", async () => (await held()) === 400 * KiB);
    for (const evicted of [a, b]) {
      expect(evicted.response()).toMatch(/^HTTP\/1\.1 503 /);
      expect(evicted.response()).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(evicted.response()).toMatch(/\r\nconnection: close\r\n/i);
    }
    expect(c.response()).toBe("");
    expect(d.response()).toBe("");
    expect(await running.metric("lameduck_admission_refused_total", "body-budget")).toBe(2);

    const answer = await httpsRequest(running.port, recorded, { ca: running.ca });
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('"patch"');
    expect(await running.metric("lameduck_admission_refused_total", "body-budget")).toBe(2);

    c.socket.destroy();
    d.socket.destroy();
    await until("every byte returned to the budget", async () => (await held()) === 0);
  });

  it("drops connections beyond its cap, counted, and takes new ones once others close", async () => {
    const running = await start({ maxConnections: 3 });
    const open = await Promise.all([0, 1, 2].map(async () => {
      const s = connect({ host: "127.0.0.1", port: running.port, ca: running.ca, servername: "localhost" });
      sockets.push(s);
      await once(s, "secureConnect");
      return s;
    }));
    await until("three connections counted", async () => (await running.metric("lameduck_admission_connections")) === 3);
    const extra = connect({ host: "127.0.0.1", port: running.port, ca: running.ca, servername: "localhost" });
    sockets.push(extra);
    let handshaken = false;
    extra.on("secureConnect", () => (handshaken = true));
    extra.on("error", () => undefined);
    await closed(extra);
    expect(handshaken).toBe(false);
    expect(await running.metric("lameduck_admission_refused_total", "connection-limit")).toBe(1);

    open[0]?.destroy();
    await until("one connection fewer", async () => (await running.metric("lameduck_admission_connections")) === 2);
    expect((await httpsRequest(running.port, recorded, { ca: running.ca })).status).toBe(200);
  });

  it("closes a connection that never completes its TLS handshake", async () => {
    const running = await start({ handshakeTimeoutMs: 300 });
    const raw = tcpConnect({ host: "127.0.0.1", port: running.port });
    raw.on("error", () => undefined);
    const started = Date.now();
    await closed(raw);
    expect(Date.now() - started).toBeLessThan(3_000);
    await until("the timeout counted", async () => (await running.metric("lameduck_admission_refused_total", "handshake-timeout")) === 1);
  });

  it("closes a connection that sends no request, but keeps a kept-alive one between reviews", async () => {
    const running = await start({ idleTimeoutMs: 300 });
    const silent = connect({ host: "127.0.0.1", port: running.port, ca: running.ca, servername: "localhost" });
    sockets.push(silent);
    silent.on("error", () => undefined);
    await once(silent, "secureConnect");
    const started = Date.now();
    await closed(silent);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await running.metric("lameduck_admission_refused_total", "idle-timeout")).toBe(1);

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 2; i++) {
        const answer = await httpsRequest(running.port, recorded, { ca: running.ca, agent });
        expect(answer.status).toBe(200);
        // Longer than the idle timeout, far shorter than keep-alive: the same connection stays open.
        await new Promise((resolve) => setTimeout(resolve, 700));
        expect(await running.metric("lameduck_admission_connections")).toBe(1);
      }
      expect(await running.metric("lameduck_admission_connections")).toBe(1);
      expect(await running.metric("lameduck_admission_refused_total", "idle-timeout")).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});
