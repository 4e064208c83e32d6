// Terminations without an API deletion, and deletions that leave less time than lameduck planned:
// the real hook against the real oracle, the pod's status written as the kubelet writes it.
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Namespace, type V1Node, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FakeApi } from "../fakeapi/index.ts";
import { createNode, reportKilledByKubelet, runPod } from "../support/cluster.ts";
import { ask, body, eventually, syncedController, type TestController, withFakeApi } from "./harness.ts";
import { killHooks, runHook } from "./hook.ts";

let api: FakeApi;
let kc: KubeConfig;
let core: CoreV1Api;
const running: TestController[] = [];

withFakeApi(running, (clients) => {
  ({ api, kc, core } = clients);
});
afterEach(killHooks);
beforeEach(async () => {
  await createNode(kc, { name: "node-a", ip: "192.168.1.10" });
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
});

const controller = (): Promise<TestController> => syncedController(kc, running);

/** A running pod as lameduck injects it: grace 30 s of its own + --max=20s, the wait hook in its preStop. */
async function injectedPod(name: string, labels: Record<string, string>): Promise<string> {
  const pod = await core.createNamespacedPod({
    namespace: "shop",
    body: body<V1Pod>({
      metadata: { name, labels, annotations: { "lameduck.dev/injected": "v1 wait" } },
      spec: {
        terminationGracePeriodSeconds: 50,
        containers: [{ name: "web", image: "web", ports: [{ containerPort: 8080 }], lifecycle: { preStop: { exec: { command: ["/.lameduck/hook", "wait", "--oracle=10.96.40.7:8080", "--max=20s", "--settle=2s", "--quiet=2s", "--fallback=10s"] } } } }],
      },
    }),
  });
  await runPod(kc, "shop", name, { node: "node-a", ip: "10.1.0.10" });
  return pod.metadata?.uid ?? "";
}

/** What the kubelet posts when it detects a shutdown, before it kills any pod (nodeshutdown_manager_linux.go). */
async function nodeShuttingDown(name: string): Promise<void> {
  const node = await core.readNode({ name });
  const now = new Date();
  node.status = { ...node.status, conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady", message: "node is shutting down", lastHeartbeatTime: now, lastTransitionTime: now }] };
  await core.replaceNodeStatus({ name, body: body<V1Node>(node) });
}

describe("a pod the kubelet terminates without an API deletion", () => {
  it("graceful node shutdown: its hook is let go at once, although the slice says ready, and the pod leaves the slice when the kubelet reports it Failed", async () => {
    const c = await controller();
    await core.createNamespacedService({ namespace: "shop", body: body<V1Service>({ metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } }) });
    const uid = await injectedPod("web-0", { app: "web" });
    await eventually("serving", async () => (await ask(c.oraclePort, uid, 0)).startsWith("serving"));

    await nodeShuttingDown("node-a");
    // The kubelet runs the preStop: no deletionTimestamp, phase Running, Ready true — the slice
    // still lists the pod ready, and would until the containers have stopped.
    const result = await runHook(c.oraclePort, uid, "20s").done;
    expect(result.code).toBe(0);
    expect(result.log).toMatch(/^lameduck: unselected/);
    expect(result.ms).toBeLessThan(5_000);
    expect(await ask(c.oraclePort, uid, 0)).toMatch(/^serving/);
    expect(await c.metric("lameduck_oracle_waits_total", { outcome: "not-deleted" })).toBe(1);
    expect(await c.metric("lameduck_oracle_pod_lookups_total", { result: "not-deleted" })).toBe(1);
    expect(await ask(c.oraclePort, uid, 1)).toBe("unselected reason=not-deleted\n");

    // The containers stopped: the kubelet reports the pod Failed with DisruptionTarget, never deletes it.
    await reportKilledByKubelet(kc, "shop", "web-0");
    await eventually("out of the slice", async () => (await ask(c.oraclePort, uid, 0)) === "unselected\n");
    expect((await core.readNamespacedPod({ namespace: "shop", name: "web-0" })).metadata?.deletionTimestamp).toBeUndefined();
  });

  it("the API cannot say how the pod is terminated: 503, and the hook falls back to its fixed sleep", async () => {
    const c = await controller();
    const uid = await injectedPod("web-0", { app: "web" });
    await handWrittenSlice(uid);
    await eventually("serving", async () => (await ask(c.oraclePort, uid, 0)).startsWith("serving"));
    api.faults.failShare(1, (r) => r.resource === "pods" && r.verb === "get");
    const result = await runHook(c.oraclePort, uid, "20s").done;
    expect(result.log).toMatch(/^lameduck: oracle 127\.0\.0\.1:\d+ .*fallback sleep/);
    expect(result.ms).toBeLessThan(8_000);
    expect(await c.metric("lameduck_oracle_waits_total", { outcome: "unverified" })).toBeGreaterThanOrEqual(1);
  });
});

describe("a pod deleted with less time than lameduck planned", () => {
  it("a grace period no longer than the application's own: the hook is let go at once", async () => {
    const c = await controller();
    const uid = await injectedPod("web-0", { app: "web" });
    await handWrittenSlice(uid);
    await eventually("serving", async () => (await ask(c.oraclePort, uid, 0)).startsWith("serving"));
    // 50 s = the application's 30 + lameduck's 20; a drain with --grace-period=20 leaves it 20.
    await core.deleteNamespacedPod({ namespace: "shop", name: "web-0", gracePeriodSeconds: 20 });
    const result = await runHook(c.oraclePort, uid, "20s").done;
    expect(result.log).toMatch(/^lameduck: unselected/);
    expect(result.ms).toBeLessThan(5_000);
    expect(await c.metric("lameduck_oracle_waits_total", { outcome: "grace" })).toBe(1);
  });

  it("a shortened grace period: the hold ends where waiting longer would take from the application", async () => {
    const c = await controller();
    const uid = await injectedPod("web-0", { app: "web" });
    await handWrittenSlice(uid);
    await eventually("serving", async () => (await ask(c.oraclePort, uid, 0)).startsWith("serving"));
    // 33 s: the application keeps its 30, so the hook may wait 3 of its 20.
    await core.deleteNamespacedPod({ namespace: "shop", name: "web-0", gracePeriodSeconds: 33 });
    const result = await runHook(c.oraclePort, uid, "20s").done;
    expect(result.log).toMatch(/^lameduck: unselected/);
    expect(result.ms).toBeGreaterThan(1_500);
    expect(result.ms).toBeLessThan(6_000);
    expect(await c.metric("lameduck_oracle_waits_total", { outcome: "grace" })).toBe(1);
  });
});

/** A slice that lists web-0 as ready whatever happens to it (its Service has no selector). */
async function handWrittenSlice(uid: string): Promise<void> {
  await kc.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: "shop",
    body: body<V1EndpointSlice>({
      metadata: { name: "web-manual", labels: { "kubernetes.io/service-name": "web-manual" } },
      addressType: "IPv4",
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      endpoints: [{ addresses: ["10.1.0.10"], conditions: { ready: true, serving: true, terminating: false }, nodeName: "node-a", targetRef: { kind: "Pod", namespace: "shop", name: "web-0", uid } }],
    }),
  });
}
