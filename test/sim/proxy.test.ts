import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { manualTimers } from "./manualtimers.ts";
import { routableEndpoints, type SliceLike } from "./endpoints.ts";
import { Propagation, resetOrClose, startProxy, type Proxy } from "./proxy.ts";

interface Cond {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

function slice(port: number, endpoints: readonly [string, Cond][]): SliceLike {
  return {
    ports: [{ name: "http", port }],
    endpoints: endpoints.map(([ip, conditions]) => ({ addresses: [ip], conditions, targetRef: { kind: "Pod", name: `pod-${ip}` } })),
  };
}

describe("the proxy's endpoint selection", () => {
  it("routes to ready endpoints that are not terminating", () => {
    const eps = routableEndpoints(
      [slice(80, [["10.0.0.1", { ready: true, serving: true, terminating: false }], ["10.0.0.2", { ready: false, serving: true, terminating: true }], ["10.0.0.3", {}]])],
      "http",
    );
    expect(eps.map((e) => e.ip)).toEqual(["10.0.0.1", "10.0.0.3"]);
  });

  it("falls back to serving terminating endpoints when none is ready", () => {
    const eps = routableEndpoints(
      [slice(80, [["10.0.0.1", { ready: false, serving: true, terminating: true }], ["10.0.0.2", { ready: false, serving: false, terminating: true }], ["10.0.0.3", { ready: false, serving: false, terminating: false }]])],
      "http",
    );
    expect(eps.map((e) => e.ip)).toEqual(["10.0.0.1"]);
  });

  it("takes each endpoint's port from its own slice, by port name", () => {
    const eps = routableEndpoints([slice(8081, [["127.0.0.1", { ready: true }]]), slice(8082, [["127.0.0.1", { ready: true }]])], "http");
    expect(eps.map((e) => e.port)).toEqual([8081, 8082]);
    expect(routableEndpoints([slice(8081, [["127.0.0.1", { ready: true }]])], "grpc")).toEqual([]);
  });
});

async function nameServer(name: string): Promise<Server> {
  const server = createServer((s) => {
    s.on("error", () => undefined);
    s.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function fetchName(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let data = "";
    s.on("data", (c: Buffer) => (data += c.toString()));
    s.on("error", (e: NodeJS.ErrnoException) => { resolve(`error:${e.code ?? "?"}`); });
    s.on("close", () => { resolve(data); });
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe("the proxy", () => {
  it("routes new connections round-robin by the slices it has applied, after the delay", async () => {
    const a = await nameServer("a");
    const b = await nameServer("b");
    cleanups.push(() => new Promise((r) => a.close(() => { r(); })), () => new Promise((r) => b.close(() => { r(); })));
    const timers = manualTimers();
    const proxy: Proxy = await startProxy({ host: "127.0.0.1", portName: "http", drawDelayMs: () => 100, timers });
    cleanups.push(() => proxy.close());
    proxy.offer([slice(portOf(a), [["127.0.0.1", { ready: true }]]), slice(portOf(b), [["127.0.0.1", { ready: true }]])]);
    expect(await fetchName(proxy.port)).toBe("error:ECONNRESET");
    timers.advance(100);
    const names = [await fetchName(proxy.port), await fetchName(proxy.port), await fetchName(proxy.port), await fetchName(proxy.port)];
    expect(names.sort()).toEqual(["a", "a", "b", "b"]);
    proxy.offer([slice(portOf(a), [["127.0.0.1", { ready: false, serving: true, terminating: true }]]), slice(portOf(b), [["127.0.0.1", { ready: true }]])]);
    expect(await fetchName(proxy.port)).not.toBe("error:ECONNRESET");
    timers.advance(100);
    expect([await fetchName(proxy.port), await fetchName(proxy.port)]).toEqual(["b", "b"]);
    expect(proxy.stats.rejected).toBe(1);
  });

  it("keeps an established connection on its endpoint after the endpoint leaves the slices", async () => {
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((r) => echo.close(() => { r(); })));
    const timers = manualTimers();
    const proxy = await startProxy({ host: "127.0.0.1", portName: "http", drawDelayMs: () => 10, timers });
    cleanups.push(() => proxy.close());
    proxy.offer([slice(portOf(echo), [["127.0.0.1", { ready: true }]])]);
    timers.advance(10);
    const s = connect({ host: "127.0.0.1", port: proxy.port });
    const roundTrip = (msg: string): Promise<string> =>
      new Promise((resolve) => {
        s.once("data", (c: Buffer) => { resolve(c.toString()); });
        s.write(msg);
      });
    expect(await roundTrip("one")).toBe("one");
    proxy.offer([]);
    timers.advance(10);
    expect(proxy.routed()).toEqual([]);
    expect(await roundTrip("two")).toBe("two");
    s.destroy();
  });

  const ready = { ready: true };
  const terminating = { ready: false, serving: true, terminating: true };
  const pods = (a: Cond, b: Cond): SliceLike[] => [slice(80, [["10.0.0.1", a], ["10.0.0.2", b]])];
  const routedIps = (proxy: Proxy): string[] => proxy.routed().map((e) => e.ip);

  it("applies each endpoint's change after its own delay, not behind another endpoint's slower change", async () => {
    const timers = manualTimers();
    const delays = [3000, 500];
    const proxy = await startProxy({ host: "127.0.0.1", portName: "http", drawDelayMs: () => delays.shift() ?? 0, timers });
    cleanups.push(() => proxy.close());
    proxy.syncNow(pods(ready, ready));
    proxy.offer(pods(terminating, ready));
    proxy.offer(pods(terminating, terminating));
    timers.advance(500);
    // The second pod's change took effect; the first pod's is still on its way, so it stays routed.
    expect(routedIps(proxy)).toEqual(["10.0.0.1"]);
    expect(proxy.pending()).toBe(1);
    timers.advance(2500);
    // Both terminating: the serving terminating fallback routes to both.
    expect(routedIps(proxy)).toEqual(["10.0.0.1", "10.0.0.2"]);
    proxy.offer([]);
    timers.advance(0);
    expect(routedIps(proxy)).toEqual([]);
    expect(proxy.pending()).toBe(0);
  });

  it("under the in-order model, holds a later change back behind an earlier one with a longer delay", async () => {
    const timers = manualTimers();
    const delays = [3000, 500];
    const proxy = await startProxy({ host: "127.0.0.1", portName: "http", drawDelayMs: () => delays.shift() ?? 0, timers, propagation: Propagation.inOrder });
    cleanups.push(() => proxy.close());
    proxy.syncNow(pods(ready, ready));
    proxy.offer(pods(terminating, ready));
    proxy.offer(pods(terminating, terminating));
    timers.advance(2999);
    expect(routedIps(proxy)).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(proxy.pending()).toBe(2);
    timers.advance(1);
    expect(routedIps(proxy)).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(proxy.pending()).toBe(0);
  });
});

/** The server's side of one connection, handed to `act`, and what the client then saw. */
async function serverSideOf(act: (socket: Socket) => void): Promise<{ readonly server: string[]; readonly client: string }> {
  const server: string[] = [];
  let onClose = (): void => undefined;
  const closed = new Promise<void>((resolve) => {
    onClose = resolve;
  });
  const listener = createServer((socket) => {
    socket.on("error", (e: NodeJS.ErrnoException) => server.push(`error:${e.syscall ?? ""}:${e.code ?? ""}`));
    socket.on("close", () => {
      server.push("close");
      onClose();
    });
    act(socket);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((r) => listener.close(() => { r(); })));
  const client = await fetchName(portOf(listener));
  // Without the close the handle leaked; bounded by the test's timeout.
  await closed;
  return { server, client };
}

describe("the proxy's reset of a client connection", () => {
  it("resets a connection whose sending side is open: the client sees ECONNRESET", async () => {
    expect(await serverSideOf((socket) => { resetOrClose(socket); })).toEqual({ server: ["close"], client: "error:ECONNRESET" });
  });

  it("closes a connection whose sending side has ended, where a reset is refused and the handle would never close", async () => {
    const seen = await serverSideOf((socket) => {
      socket.end("a");
      resetOrClose(socket);
    });
    expect(seen.server).toEqual(["close"]);
  });
});
