// The API server goes away and comes back with a reset store (an etcd restore): /readyz names the
// caches that cannot watch once the bound has passed, and every cache converges on the new store.
import { CoreV1Api, type V1Namespace, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeApi, type FakeApi } from "../fakeapi/index.ts";
import { createNode, runPod } from "../support/cluster.ts";
import { ask, body, eventually, fakeHookDir, httpGet, startTestController, type TestController } from "./harness.ts";

const stoppable: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(stoppable.splice(0).map((s) => s.stop()));
});

const hookConfigMaps = async (core: CoreV1Api, namespace: string): Promise<number> =>
  (await core.listNamespacedConfigMap({ namespace, labelSelector: "app.kubernetes.io/managed-by=lameduck" })).items.length;

describe("caches that stop moving", () => {
  it("fail /readyz naming the cache past --cache-stale-after, and converge on a reset store within 10 s", async () => {
    const first: FakeApi = await startFakeApi();
    const port = Number(new URL(first.url).port);
    let live: FakeApi = first;
    stoppable.push({ stop: () => live.close() });
    const kc = first.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await createNode(kc, { name: "node-a", ip: "192.168.1.10" });
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    await core.createNamespacedService({ namespace: "shop", body: body<V1Service>({ metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } }) });
    const pod = await core.createNamespacedPod({ namespace: "shop", body: body<V1Pod>({ metadata: { name: "web-0", labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "web" }] } }) });
    await runPod(kc, "shop", "web-0", { node: "node-a", ip: "10.1.0.10" });
    const uid = pod.metadata?.uid ?? "";

    const c: TestController = await startTestController(kc, { hookDir: fakeHookDir(), args: ["--cache-stale-after=1s"] });
    stoppable.unshift(c);
    await eventually("serving", async () => (await ask(c.oraclePort, uid, 0)).startsWith("serving"));
    await eventually("shop's hook ConfigMap", async () => (await hookConfigMaps(core, "shop")) === 1);
    await eventually("ready", async () => (await httpGet(c.metricsPort, "/readyz")).startsWith("200"));

    await first.close();
    const unready = await eventually("/readyz to name the caches", async () => {
      const r = await httpGet(c.metricsPort, "/readyz");
      return r.startsWith("503") && r.includes("endpointslices") ? r : undefined;
    });
    expect(unready).toMatch(/^503 not ready: caches not watching for over 1s: .*namespaces.*endpointslices.*configmaps/);
    expect(await c.metric("lameduck_informer_watch_failing_seconds", { resource: "endpointslices" })).toBeGreaterThan(1);

    // The same address, an empty store: web-0 and its slice no longer exist; "shop" and a new
    // namespace exist without their ConfigMaps.
    live = await startFakeApi({ port });
    const restarted = Date.now();
    const core2 = live.kubeConfig().makeApiClient(CoreV1Api);
    await core2.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    await core2.createNamespace({ body: body<V1Namespace>({ metadata: { name: "other" } }) });
    await eventually("the old pod unselected", async () => (await ask(c.oraclePort, uid, 0)) === "unselected\n", 10_000);
    await eventually("both hook ConfigMaps recreated", async () => (await hookConfigMaps(core2, "shop")) === 1 && (await hookConfigMaps(core2, "other")) === 1, 10_000);
    await eventually("ready again", async () => (await httpGet(c.metricsPort, "/readyz")).startsWith("200"), 10_000);
    expect(Date.now() - restarted).toBeLessThan(10_000);
  });
});
