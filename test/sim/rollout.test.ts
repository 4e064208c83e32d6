// A rollout that cannot finish says why, as the cluster says it: against the in-repo API server
// without its loopback allowance (as a real one), pods at 127.0.0.1 are never published.
import { afterAll, beforeAll, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import { startFakeApi, type FakeApi } from "../fakeapi/index.ts";
import { createNode, runPod } from "../support/cluster.ts";
import { makeListeners } from "./ports.ts";
import { makeRollout } from "./rollout.ts";

let fake: FakeApi;
const listeners = makeListeners("127.0.0.1");

beforeAll(async () => {
  fake = await startFakeApi();
  const core = fake.kubeConfig().makeApiClient(CoreV1Api);
  await createNode(fake.kubeConfig(), { name: "n", ip: "192.0.2.40" });
  await core.createNamespace({ body: { metadata: { name: "shop" } } });
  await core.createNamespacedService({ namespace: "shop", body: { metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] } } });
});

afterAll(async () => {
  await listeners.close();
  await fake.close();
});

it("a pod that never becomes an endpoint times out with the namespace's Warning events in the error", async () => {
  const kc = fake.kubeConfig();
  const rollout = makeRollout({ kc, namespace: "shop", nodeName: "n", workload: { app: "web", replicas: 1, served: true }, listeners, now: () => performance.now(), waitTimeoutMs: 1500 });
  const created = rollout.createPods("v1", 1);
  // The kubelet's part: the pod runs and is Ready, at an address no real controller can publish.
  const core = kc.makeApiClient(CoreV1Api);
  while ((await core.listNamespacedPod({ namespace: "shop" })).items.length === 0) await new Promise((r) => setTimeout(r, 20));
  await runPod(kc, "shop", "web-v1-1", { node: "n", ip: "127.0.0.1" });
  await expect(created).rejects.toThrow(
    /^rollout of web: timed out waiting for pod web-v1-1 to be available; Warning events in shop: FailedToUpdateEndpointSlices \(Service web\): Error updating Endpoint Slices for Service shop\/web: .*endpoints\[0\]\.addresses\[0\]: Invalid value: "127\.0\.0\.1": may not be in the loopback range/,
  );
});
