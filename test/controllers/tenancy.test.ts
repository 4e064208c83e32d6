// A tenant who may create EndpointSlices in its own namespace tries to hold, release or learn about
// another tenant's pods through the oracle, and to make lameduck write Events elsewhere.
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Namespace, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNode, runPod } from "../support/cluster.ts";
import { ask, body, eventually, syncedController, type TestController, withFakeApi } from "./harness.ts";
import { killHooks, runHook } from "./hook.ts";

let kc: KubeConfig;
let core: CoreV1Api;
const running: TestController[] = [];

withFakeApi(
  running,
  (clients) => {
    ({ kc, core } = clients);
  },
  // Slow enough that the victim's hook, started right after the deletion, asks while its genuine
  // slice still says serving.
  { endpointSliceDelayMs: 1_000 },
);
afterEach(killHooks);
beforeEach(async () => {
  await createNode(kc, { name: "node-a", ip: "192.168.1.10" });
  for (const name of ["tenant-a", "tenant-b"]) await core.createNamespace({ body: body<V1Namespace>({ metadata: { name } }) });
});

const controller = (): Promise<TestController> => syncedController(kc, running);

async function victim(options: { service: boolean }): Promise<string> {
  if (options.service) {
    await core.createNamespacedService({ namespace: "tenant-b", body: body<V1Service>({ metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } }) });
  }
  const pod = await core.createNamespacedPod({ namespace: "tenant-b", body: body<V1Pod>({ metadata: { name: "web-0", labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "web", ports: [{ containerPort: 8080 }] }] } }) });
  await runPod(kc, "tenant-b", "web-0", { node: "node-a", ip: "10.1.0.10" });
  return pod.metadata?.uid ?? "";
}

/** tenant-a's own slice, claiming `uid` under the targetRef namespace and name it chooses. */
async function forgedSlice(uid: string, ref: { namespace: string; name: string }, ready: boolean): Promise<void> {
  await kc.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: "tenant-a",
    body: body<V1EndpointSlice>({
      metadata: { name: "forged", labels: { "kubernetes.io/service-name": "forged" } },
      addressType: "IPv4",
      ports: [{ name: "x", port: 9999, protocol: "TCP" }],
      endpoints: [{ addresses: ["10.1.0.10"], conditions: { ready, serving: ready, terminating: false }, nodeName: "node-a", targetRef: { kind: "Pod", ...ref, uid } }],
    }),
  });
}

const eventsIn = async (namespace: string): Promise<number> => (await core.listNamespacedEvent({ namespace })).items.filter((e) => e.reason === "OutOfRotation").length;

describe("EndpointSlices as evidence about pods", () => {
  it("an endpoint naming a pod of another namespace is ignored and counted", async () => {
    const c = await controller();
    const uid = await victim({ service: false });
    await forgedSlice(uid, { namespace: "tenant-b", name: "web-0" }, true);
    await eventually("the foreign endpoint counted", async () => (await c.metric("lameduck_oracle_foreign_endpoints")) === 1);
    expect(await ask(c.oraclePort, uid, 0)).toBe("unselected\n");
    const result = await runHook(c.oraclePort, uid, "20s").done;
    expect(result.log).toMatch(/^lameduck: unselected/);
    expect(result.ms).toBeLessThan(5_000);
  });

  it("an endpoint that claims another tenant's pod uid under its own namespace does not hold that pod's hook, nor record Events", async () => {
    const c = await controller();
    const uid = await victim({ service: false });
    await forgedSlice(uid, { namespace: "tenant-a", name: "web-0" }, true);
    // Without a lookup (a probe, wait=0) the slices alone speak; a hook's question is checked.
    await eventually("the claim seen", async () => (await ask(c.oraclePort, uid, 0)).startsWith("serving"));
    const result = await runHook(c.oraclePort, uid, "20s").done;
    expect(result.log).toMatch(/^lameduck: unselected/);
    expect(result.ms).toBeLessThan(5_000);
    expect(await c.metric("lameduck_oracle_pod_lookups_total", { result: "absent" })).toBe(1);
    expect(await eventsIn("tenant-a")).toBe(0);
    expect(await eventsIn("tenant-b")).toBe(0);
  });

  it("a forged claim beside the genuine one adds no ports to the victim's answer, and its Event names the real pod", async () => {
    const c = await controller();
    const uid = await victim({ service: true });
    await eventually("serving", async () => (await ask(c.oraclePort, uid, 0)).startsWith("serving"));
    await forgedSlice(uid, { namespace: "tenant-a", name: "decoy" }, false);
    await core.deleteNamespacedPod({ namespace: "tenant-b", name: "web-0", gracePeriodSeconds: 30 });
    // The victim's hook, with the quiet phase on, so that the ports it is given matter.
    const answer = await ask(c.oraclePort, uid, 10);
    expect(answer).toBe("drained ports=8080 node=192.168.1.10\n");
    await eventually("the Event on the real pod", async () => (await eventsIn("tenant-b")) === 1);
    expect(await eventsIn("tenant-a")).toBe(0);
  });
});
