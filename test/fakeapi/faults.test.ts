import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, makeInformer, Watch } from "@kubernetes/client-node";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { createNamespace, deleteNamespace, startCluster, targetsRealCluster } from "../support/cluster.ts";
import type { Cluster } from "../support/cluster.ts";
import type { FakeApi } from "./index.ts";
import { failureOf } from "../support/apierrors.ts";

// Fault knobs exist only on the fake; against a real control plane these tests are skipped.
describe.skipIf(targetsRealCluster())("fault knobs [fake only: a real control plane has no fault knobs]", () => {
  let cluster: Cluster;
  let fake: FakeApi;
  let core: CoreV1Api;
  let ns: string;

  beforeAll(async () => {
    cluster = await startCluster();
    if (cluster.fake === undefined) throw new Error("fault tests need the fake API server");
    fake = cluster.fake;
    core = cluster.kc.makeApiClient(CoreV1Api);
    ns = await createNamespace(cluster.kc, "fakeapi-faults");
  });

  afterAll(async () => {
    fake.faults.reset();
    await deleteNamespace(cluster.kc, ns);
    await cluster.close();
  });

  async function eventually(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it("an informer survives dropped watches, reset connections and 410s, and ends with the right cache", async () => {
    const selector = "fault=informer";
    for (let i = 1; i <= 5; i++) await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `inf-${String(i)}`, labels: { fault: "informer" } } } });
    const informer = makeInformer<V1ConfigMap>(cluster.kc, `/api/v1/namespaces/${ns}/configmaps`, () => core.listNamespacedConfigMap({ namespace: ns, labelSelector: selector }), selector);
    let errors = 0;
    let stopped = false;
    // client-node's informer stops on errors other than 410; its own example restarts it.
    informer.on("error", () => {
      errors += 1;
      if (!stopped) setTimeout(() => { void informer.start(); }, 50);
    });
    const names = (): string[] => informer.list().map((c) => c.metadata?.name ?? "").sort();
    await informer.start();
    try {
      await eventually("the initial list", () => names().length === 5);

      expect(fake.faults.dropWatches()).toBeGreaterThan(0);
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "inf-6", labels: { fault: "informer" } } } });
      await eventually("inf-6 after a dropped watch", () => names().includes("inf-6"));

      fake.faults.goneOnNextWatch(2);
      fake.faults.dropWatches();
      await core.deleteNamespacedConfigMap({ namespace: ns, name: "inf-1" });
      await eventually("inf-1 gone after 410 ERROR events", () => !names().includes("inf-1"));

      fake.faults.goneOnNextWatch(1, "status");
      fake.faults.dropWatches();
      await core.deleteNamespacedConfigMap({ namespace: ns, name: "inf-2" });
      await eventually("inf-2 gone after an HTTP 410", () => !names().includes("inf-2"));

      fake.faults.dropWatches("reset");
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "inf-7", labels: { fault: "informer" } } } });
      await eventually("inf-7 after a reset connection", () => names().includes("inf-7"));

      // A watch that cannot even start (500) is an error for the informer; the handler restarts it.
      fake.faults.failShare(1, (r) => r.verb === "watch" && r.namespace === ns);
      fake.faults.dropWatches();
      await eventually("an informer error", () => errors > 0);
      fake.faults.failShare(0);
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "inf-8", labels: { fault: "informer" } } } });
      await eventually("inf-8 after failed watches", () => names().includes("inf-8"));

      expect(names()).toEqual(["inf-3", "inf-4", "inf-5", "inf-6", "inf-7", "inf-8"]);
      const watches = fake.requests.filter((r) => r.verb === "watch" && r.namespace === ns);
      expect(watches.length).toBeGreaterThanOrEqual(4);
    } finally {
      stopped = true;
      await informer.stop();
    }
  });

  it("failShare answers 500 to exactly that share of requests", async () => {
    fake.faults.failShare(0.5, (r) => r.resource === "configmaps" && r.verb === "get");
    let failed = 0;
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "share" } } });
    for (let i = 0; i < 10; i++) {
      try {
        await core.readNamespacedConfigMap({ namespace: ns, name: "share" });
      } catch {
        failed += 1;
      }
    }
    fake.faults.failShare(0);
    expect(failed).toBe(5);
    fake.faults.failShare(1);
    const f = await failureOf(core.readNamespacedConfigMap({ namespace: ns, name: "share" }));
    fake.faults.failShare(0);
    expect(f.code).toBe(500);
    expect(f.status).toMatchObject({ reason: "InternalError", code: 500 });
  });

  it("delayMs holds requests for at least that long", async () => {
    fake.faults.delayMs(300);
    const started = Date.now();
    await core.listNamespacedConfigMap({ namespace: ns });
    fake.faults.delayMs(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("stallNext holds a request without an answer until releaseStalled", async () => {
    fake.faults.stallNext(1);
    let done = false;
    const call = core.listNamespacedConfigMap({ namespace: ns }).then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    fake.faults.releaseStalled();
    await call;
    expect(done).toBe(true);
  });

  it("holdWatchEvents queues every watch's events and bookmarks until released, then delivers them in order", async () => {
    const seen: string[] = [];
    const list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: "fault=held" });
    const watch = await new Watch(cluster.kc).watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { allowWatchBookmarks: true, labelSelector: "fault=held", resourceVersion: list.metadata?.resourceVersion ?? "" },
      (type, obj: V1ConfigMap) => { seen.push(`${type} ${obj.metadata?.name ?? ""}`); },
      () => undefined,
    );
    try {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "held-0", labels: { fault: "held" } } } });
      await eventually("the first event", () => seen.length === 1);
      fake.faults.holdWatchEvents();
      for (let i = 1; i <= 3; i++) await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `held-${String(i)}`, labels: { fault: "held" } } } });
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toEqual(["ADDED held-0"]);
      await fake.faults.releaseWatchEvents();
      await eventually("the held events", () => seen.filter((e) => e.startsWith("ADDED")).length === 4);
      expect(seen.filter((e) => e.startsWith("ADDED"))).toEqual(["ADDED held-0", "ADDED held-1", "ADDED held-2", "ADDED held-3"]);
    } finally {
      watch.abort();
    }
  });

  it("the request log records verb, resource, namespace, name, user agent and code", async () => {
    await failureOf(core.readNamespacedPod({ namespace: ns, name: "logged" }));
    const last = fake.requests.findLast((r) => r.name === "logged");
    expect(last).toMatchObject({ verb: "get", resource: "pods", namespace: ns, name: "logged", code: 404 });
    expect(last?.userAgent).not.toBe("");
  });
});
