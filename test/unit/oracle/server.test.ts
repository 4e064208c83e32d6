import { request } from "node:http";
import { connect } from "node:net";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../injector/log.ts";
import { makeOracle, type Oracle } from "../../../injector/oracle/oracle.ts";
import type { PodChecker } from "../../../injector/oracle/podcheck.ts";
import { parseDrainRequest, startOracleServer, type OracleServer } from "../../../injector/oracle/server.ts";
import { makeSliceIndex, type SliceIndex } from "../../../injector/oracle/slices.ts";
import type { PodRef, SliceLike } from "../../../injector/oracle/state.ts";

function slice(endpoints: { uid: string; ready?: boolean; terminating?: boolean }[], name = "web-1"): SliceLike {
  return {
    metadata: { name, namespace: "shop" },
    ports: [{ port: 8080 }],
    endpoints: endpoints.map((e) => ({
      addresses: ["10.1.0.1"],
      nodeName: "node-a",
      conditions: { ready: e.ready ?? true, terminating: e.terminating ?? false },
      targetRef: { kind: "Pod", namespace: "shop", name: `pod-${e.uid}`, uid: e.uid },
    })),
  };
}

interface Harness {
  index: SliceIndex;
  oracle: Oracle;
  server: OracleServer;
  registry: Registry;
  drained: { ref: PodRef; seconds: number }[];
  synced: { value: boolean };
  update(s: SliceLike): void;
}

const open: OracleServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function harness(maxWaits = 100, maxWaitsPerClient?: number, check?: PodChecker): Promise<Harness> {
  const index = makeSliceIndex();
  const registry = new Registry();
  const drained: { ref: PodRef; seconds: number }[] = [];
  const oracle = makeOracle({
    index,
    maxWaits,
    ...(maxWaitsPerClient === undefined ? {} : { maxWaitsPerClient }),
    ...(check === undefined ? {} : { check }),
    registry,
    onDrained: (ref, seconds) => drained.push({ ref, seconds }),
  });
  const synced = { value: true };
  const server = await startOracleServer({
    oracle,
    isSynced: () => synced.value,
    nodeAddress: (name) => (name === "node-a" ? "192.168.1.10" : undefined),
    host: "127.0.0.1",
    port: 0,
    logger: silentLogger,
    maxConnections: maxWaits + 100,
  });
  open.push(server);
  return { index, oracle, server, registry, drained, synced, update: (s) => {
      oracle.changed(index.upsert(s));
    },
  };
}

function get(port: number, path: string, method = "GET", localAddress = "127.0.0.1"): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, agent: false, localAddress }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the drain oracle over HTTP", () => {
  it("answers one line with the state, ports and node address, and closes the connection", async () => {
    const h = await harness();
    h.update(slice([{ uid: "p1" }]));
    const res = await get(h.server.port, "/v1/pods/p1/drain?wait=0");
    expect(res).toMatchObject({ status: 200, body: "serving ports=8080 node=192.168.1.10\n" });
    expect(res.headers["connection"]).toBe("close");
    expect(res.headers["content-type"]).toBe("text/plain");
  });

  it("answers unselected at once for a pod no slice lists", async () => {
    const h = await harness();
    const res = await get(h.server.port, "/v1/pods/nobody/drain?wait=30");
    expect(res.body).toBe("unselected\n");
  });

  it("holds a serving pod's request and releases it when its endpoint turns terminating", async () => {
    const h = await harness();
    h.update(slice([{ uid: "p1" }, { uid: "p2" }]));
    const pending = get(h.server.port, "/v1/pods/p1/drain?wait=30");
    const other = get(h.server.port, "/v1/pods/p2/drain?wait=30");
    await until(() => h.oracle.activeWaits() === 2, "two held requests");
    h.update(slice([{ uid: "p1", ready: false, terminating: true }, { uid: "p2" }]));
    expect((await pending).body).toBe("drained ports=8080 node=192.168.1.10\n");
    expect(h.oracle.activeWaits()).toBe(1);
    expect(h.drained).toHaveLength(1);
    expect(h.drained[0]?.ref).toEqual({ namespace: "shop", name: "pod-p1", uid: "p1" });
    h.update(slice([{ uid: "p1", ready: false, terminating: true }]));
    expect((await other).body).toBe("unselected\n");
  });

  it("keeps holding through changes that leave the pod serving", async () => {
    const h = await harness();
    h.update(slice([{ uid: "p1" }]));
    let answered = false;
    const pending = get(h.server.port, "/v1/pods/p1/drain?wait=30").then((r) => {
      answered = true;
      return r;
    });
    await until(() => h.oracle.activeWaits() === 1, "a held request");
    h.update(slice([{ uid: "p1" }, { uid: "p9" }]));
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    h.update(slice([{ uid: "p9" }]));
    expect((await pending).body).toBe("unselected\n");
  });

  it("answers the current state when the wait passes", async () => {
    const h = await harness();
    h.update(slice([{ uid: "p1" }]));
    const res = await get(h.server.port, "/v1/pods/p1/drain?wait=0.2");
    expect(res.body).toBe("serving ports=8080 node=192.168.1.10\n");
    expect(await h.registry.getSingleMetricAsString("lameduck_oracle_waits_total")).toContain('outcome="timeout"} 1');
  });

  it("answers 503 until the EndpointSlice cache has synced", async () => {
    const h = await harness();
    h.synced.value = false;
    expect((await get(h.server.port, "/v1/pods/p1/drain?wait=1")).status).toBe(503);
  });

  it("answers 503 beyond the cap on concurrent waits", async () => {
    const h = await harness(2);
    h.update(slice([{ uid: "p1" }]));
    const held = [get(h.server.port, "/v1/pods/p1/drain?wait=30"), get(h.server.port, "/v1/pods/p1/drain?wait=30")];
    await until(() => h.oracle.activeWaits() === 2, "two held requests");
    expect((await get(h.server.port, "/v1/pods/p1/drain?wait=30")).status).toBe(503);
    h.update(slice([]));
    expect((await Promise.all(held)).map((r) => r.body)).toEqual(["unselected\n", "unselected\n"]);
  });

  it("answers 503 beyond the cap on one client address's concurrent waits, and still holds other clients'", async () => {
    const h = await harness(100, 2);
    h.update(slice([{ uid: "p1" }, { uid: "p2" }]));
    const held = [get(h.server.port, "/v1/pods/p1/drain?wait=30"), get(h.server.port, "/v1/pods/p2/drain?wait=30")];
    await until(() => h.oracle.activeWaits() === 2, "two held requests");
    const third = await get(h.server.port, "/v1/pods/p1/drain?wait=30");
    expect(third).toMatchObject({ status: 503, body: "busy: too many waits from 127.0.0.1\n" });
    // An answer that needs no holding is not limited.
    expect((await get(h.server.port, "/v1/pods/p1/drain?wait=0")).status).toBe(200);
    // Another pod (another source address) is held as usual.
    const other = get(h.server.port, "/v1/pods/p1/drain?wait=30", "GET", "127.0.0.2");
    await until(() => h.oracle.activeWaits() === 3, "a third held request from another address");
    expect(await h.registry.getSingleMetricAsString("lameduck_oracle_waits_total")).toContain('outcome="rejected-client"} 1');
    h.update(slice([]));
    expect((await Promise.all([...held, other])).map((r) => r.body)).toEqual(["unselected\n", "unselected\n", "unselected\n"]);
    // Released waits free the client's share.
    h.update(slice([{ uid: "p1" }]));
    const again = get(h.server.port, "/v1/pods/p1/drain?wait=30");
    await until(() => h.oracle.activeWaits() === 1, "held again");
    h.update(slice([]));
    expect((await again).status).toBe(200);
  });

  it("while a pod's lookup is pending, its slices may keep the hook asking but not release it", async () => {
    const pending: PodChecker = { check: () => undefined };
    const h = await harness(100, undefined, pending);
    h.update(slice([{ uid: "p1" }, { uid: "p2", ready: false }]));
    expect((await get(h.server.port, "/v1/pods/p1/drain?wait=0.2")).body).toBe("serving ports=8080 node=192.168.1.10\n");
    expect(await get(h.server.port, "/v1/pods/p2/drain?wait=0.2")).toMatchObject({ status: 503, body: "the pod's lookup has not answered yet\n" });
    expect(h.drained).toHaveLength(0);
    // A probe without a wait needs no lookup.
    expect((await get(h.server.port, "/v1/pods/p2/drain?wait=0")).body).toBe("drained ports=8080 node=192.168.1.10\n");
  });

  it("forgets a held request whose client went away", async () => {
    const h = await harness();
    h.update(slice([{ uid: "p1" }]));
    const socket = connect(h.server.port, "127.0.0.1");
    socket.write("GET /v1/pods/p1/drain?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => h.oracle.activeWaits() === 1, "a held request");
    socket.destroy();
    await until(() => h.oracle.activeWaits() === 0, "the abandoned request to be dropped");
    expect(await h.registry.getSingleMetricAsString("lameduck_oracle_waits_total")).toContain('outcome="abandoned"} 1');
  });

  it("rejects bad uids, bad waits, other paths and other methods", async () => {
    const h = await harness();
    expect((await get(h.server.port, "/v1/pods/a%2Fb/drain")).status).toBe(400);
    expect((await get(h.server.port, "/v1/pods/p1/drain?wait=-1")).status).toBe(400);
    expect((await get(h.server.port, "/v1/pods/p1/drain?wait=soon")).status).toBe(400);
    expect((await get(h.server.port, "/metrics")).status).toBe(404);
    expect((await get(h.server.port, "/v1/pods/p1/drain", "POST")).status).toBe(405);
  });

  it("on close answers every held request with its current state", async () => {
    const h = await harness();
    h.update(slice([{ uid: "p1" }]));
    const held = [get(h.server.port, "/v1/pods/p1/drain?wait=30"), get(h.server.port, "/v1/pods/p1/drain?wait=30")];
    await until(() => h.oracle.activeWaits() === 2, "two held requests");
    const started = Date.now();
    await h.server.close();
    expect((await Promise.all(held)).map((r) => r.body)).toEqual(["serving ports=8080 node=192.168.1.10\n", "serving ports=8080 node=192.168.1.10\n"]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("drops a client that never finishes its request headers", async () => {
    const h = await harness();
    const socket = connect(h.server.port, "127.0.0.1");
    socket.write("GET /v1/pods/p1/drain HTTP/1.1\r\n");
    const closed = await new Promise<boolean>((resolve) => {
      socket.resume();
      socket.on("close", () => {
        resolve(true);
      });
      socket.on("error", () => undefined);
      setTimeout(() => {
        resolve(false);
      }, 15_000);
    });
    expect(closed).toBe(true);
  });
});

describe("drain request parsing", () => {
  it("caps the wait at 30 seconds and accepts fractions", () => {
    expect(parseDrainRequest("GET", "/v1/pods/ab-12/drain?wait=90")).toEqual({ ok: true, uid: "ab-12", waitMs: 30_000 });
    expect(parseDrainRequest("GET", "/v1/pods/ab-12/drain?wait=1.5")).toEqual({ ok: true, uid: "ab-12", waitMs: 1500 });
    expect(parseDrainRequest("GET", "/v1/pods/ab-12/drain")).toEqual({ ok: true, uid: "ab-12", waitMs: 0 });
  });
  it("refuses a uid longer than any pod uid", () => {
    expect(parseDrainRequest("GET", `/v1/pods/${"a".repeat(65)}/drain`)).toMatchObject({ ok: false, status: 400 });
  });
});
