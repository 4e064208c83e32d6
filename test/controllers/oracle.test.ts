import { existsSync } from "node:fs";
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1Namespace, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FakeApi } from "../fakeapi/index.ts";
import { createNode, finishPod, runPod, setPodReady } from "../support/cluster.ts";
import { ask, body, eventually, syncedController, type TestController, withFakeApi } from "./harness.ts";
import { hookBinary, killHooks, runHook } from "./hook.ts";

let api: FakeApi;
let kc: KubeConfig;
let core: CoreV1Api;
const running: TestController[] = [];

// The EndpointSlice controller acts a second after a change (the real one in tens of
// milliseconds), so that a hook started right after its pod's deletion asks while the slice still
// says serving, as the kubelet's exec can under a busy controller.
withFakeApi(running, (clients) => {
  ({ api, kc, core } = clients);
}, { endpointSliceDelayMs: 1_000 });
// Runs before withFakeApi's afterEach (vitest runs after-hooks in reverse): hooks die first.
afterEach(killHooks);
beforeEach(async () => {
  await createNode(kc, { name: "node-a", ip: "192.168.1.10" });
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
});

const controller = (): Promise<TestController> => syncedController(kc, running);

/** A Service selecting app=<app> (port 80 → 8080) and `count` running pods behind it; returns their uids. */
async function service(app: string, count: number, options: { service?: boolean } = {}): Promise<{ name: string; uid: string }[]> {
  if (options.service !== false) {
    await core.createNamespacedService({
      namespace: "shop",
      body: body<V1Service>({ metadata: { name: app }, spec: { selector: { app }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } }),
    });
  }
  const pods: { name: string; uid: string }[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${app}-${i}`;
    const pod = await core.createNamespacedPod({
      namespace: "shop",
      body: body<V1Pod>({ metadata: { name, labels: { app } }, spec: { containers: [{ name: "web", image: "web", ports: [{ containerPort: 8080 }] }] } }),
    });
    await runPod(kc, "shop", name, { node: "node-a", ip: `10.1.0.${i + 10}` });
    pods.push({ name, uid: pod.metadata?.uid ?? "" });
  }
  return pods;
}

describe("the drain oracle against the API", () => {
  it("answers from the EndpointSlices the API's controller writes, with ports and the node's address", async () => {
    const c = await controller();
    const [pod] = await service("web", 1);
    await eventually("serving", async () => (await ask(c.oraclePort, pod?.uid ?? "", 0)) === "serving ports=8080 node=192.168.1.10\n");
    await setPodReady(kc, "shop", "web-0", false);
    await eventually("drained", async () => (await ask(c.oraclePort, pod?.uid ?? "", 0)).startsWith("drained"));
  });

  it("the real hook is released by the slice turning terminating when the pod is deleted, not by its maximum", async () => {
    expect(existsSync(hookBinary), `${hookBinary} (npm run build)`).toBe(true);
    const c = await controller();
    const [pod] = await service("web", 2);
    const uid = pod?.uid ?? "";
    await eventually("serving", async () => (await ask(c.oraclePort, uid, 0)).startsWith("serving"));
    // As the kubelet does: the deletion first, then the preStop hook.
    await core.deleteNamespacedPod({ namespace: "shop", name: "web-0", gracePeriodSeconds: 30 });
    const hook = runHook(c.oraclePort, uid, "20s");
    await eventually("the hook's question held", async () => (await c.metric("lameduck_oracle_active_waits")) >= 1);
    await eventually("the pod looked up: being deleted", async () => (await c.metric("lameduck_oracle_pod_lookups_total", { result: "deleting" })) === 1);
    const result = await hook.done;
    expect(result.code).toBe(0);
    expect(result.log).toMatch(/^lameduck: drained after /);
    // Far below --max=20s: released by the slice event.
    expect(result.ms).toBeLessThan(10_000);
    expect(await c.metric("lameduck_oracle_waits_total", { outcome: "released" })).toBeGreaterThanOrEqual(1);
    const events = await eventually("an OutOfRotation event", async () => {
      const list = await core.listNamespacedEvent({ namespace: "shop" });
      return list.items.find((e) => e.reason === "OutOfRotation" && e.involvedObject.uid === uid);
    });
    expect(events.message).toMatch(/^out of rotation after \d+\.\d\ds$/);
  });

  it("an unselected pod's hook exits at once", async () => {
    const c = await controller();
    const [pod] = await service("worker", 1, { service: false });
    const hook = runHook(c.oraclePort, pod?.uid ?? "", "20s");
    const result = await hook.done;
    expect(result.code).toBe(0);
    expect(result.log).toMatch(/^lameduck: unselected/);
    expect(result.ms).toBeLessThan(5_000);
  });

  it("after dropped watches and 410s while slices change, the answers and the ConfigMaps converge", async () => {
    const c = await controller();
    const pods = await service("web", 3);
    for (const p of pods) await eventually("serving", async () => (await ask(c.oraclePort, p.uid, 0)).startsWith("serving"));
    await eventually("the ConfigMap", async () => (await core.listNamespacedConfigMap({ namespace: "shop", labelSelector: "app.kubernetes.io/managed-by=lameduck" })).items.length === 1);
    const restartsBefore = await c.metric("lameduck_informer_restarts_total", { resource: "endpointslices" });

    api.faults.goneOnNextWatch(10);
    api.faults.dropWatches("reset");
    await setPodReady(kc, "shop", "web-0", false);
    api.faults.dropWatches("close");
    await core.deleteNamespacedPod({ namespace: "shop", name: "web-1", gracePeriodSeconds: 30 });
    await core.deleteNamespacedConfigMap({ namespace: "shop", name: `lameduck-hook-${c.distributor.hash}` });
    api.faults.dropWatches("reset");
    await finishPod(kc, "shop", "web-2");
    api.faults.dropWatches("close");

    const [p0, p1, p2] = pods;
    await eventually("web-0 drained", async () => (await ask(c.oraclePort, p0?.uid ?? "", 0)).startsWith("drained"));
    await eventually("web-1 drained", async () => (await ask(c.oraclePort, p1?.uid ?? "", 0)).startsWith("drained"));
    await eventually("web-2 unselected", async () => (await ask(c.oraclePort, p2?.uid ?? "", 0)) === "unselected\n");
    await eventually("the ConfigMap restored", async () => (await core.listNamespacedConfigMap({ namespace: "shop", labelSelector: "app.kubernetes.io/managed-by=lameduck" })).items.length === 1);
    // The oracle's cache holds exactly what the API holds.
    const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: "shop" });
    const listed = slices.items.flatMap((s) => (s.endpoints ?? []).map((e) => e.targetRef?.uid));
    expect(listed.sort()).toEqual([p0?.uid, p1?.uid].sort());
    expect(await c.metric("lameduck_informer_restarts_total", { resource: "endpointslices" })).toBeGreaterThan(restartsBefore);
  });
});
