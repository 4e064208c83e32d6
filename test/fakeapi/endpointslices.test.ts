import { afterAll, beforeAll, expect, it } from "vitest";
import { CoreV1Api, DiscoveryV1Api } from "@kubernetes/client-node";
import type { V1EndpointSlice } from "@kubernetes/client-node";
import { createNamespace, createNode, deleteNamespace, finishPod, runPod, setPodReady, startCluster } from "../support/cluster.ts";
import type { Cluster } from "../support/cluster.ts";

let cluster: Cluster;
let core: CoreV1Api;
let discovery: DiscoveryV1Api;
let ns: string;
const node = `eps-node-${String(process.pid)}`;

beforeAll(async () => {
  cluster = await startCluster();
  core = cluster.kc.makeApiClient(CoreV1Api);
  discovery = cluster.kc.makeApiClient(DiscoveryV1Api);
  ns = await createNamespace(cluster.kc, "fakeapi-eps");
  await createNode(cluster.kc, { name: node, ip: "192.0.2.20", zone: "zone-x" });
});

afterAll(async () => {
  await deleteNamespace(cluster.kc, ns);
  await core.deleteNode({ name: node }).catch(() => undefined);
  await cluster.close();
});

async function slicesOf(service: string): Promise<V1EndpointSlice[]> {
  return (await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: `kubernetes.io/service-name=${service}` })).items;
}

/** Polls the Service's slices until `check` holds (the controller acts asynchronously, like the real one). */
async function slicesWhen(service: string, check: (slices: V1EndpointSlice[]) => boolean, what: string): Promise<V1EndpointSlice[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const slices = await slicesOf(service);
    if (check(slices)) return slices;
    if (Date.now() > deadline) throw new Error(`slices of ${service} never had ${what}; last: ${JSON.stringify(slices.map((x) => x.endpoints))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Conditions = { name: string; ready?: boolean; serving?: boolean; terminating?: boolean }[];

function endpointsWhen(service: string, check: (eps: Conditions) => boolean): Promise<V1EndpointSlice[]> {
  return slicesWhen(service, (slices) => check(slices.flatMap((x) => (x.endpoints ?? []).map((e) => ({ name: e.targetRef?.name ?? "", ...(e.conditions ?? {}) })))), "the expected endpoints");
}

async function service(name: string, spec: Record<string, unknown> = {}): Promise<void> {
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name }, spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: "http" }], ...spec } } });
}

async function pod(app: string, name: string): Promise<void> {
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app } }, spec: { containers: [{ name: "app", image: "registry.example.invalid/app:1.0", ports: [{ name: "http", containerPort: 8080 }] }] } } });
}

it("a Service whose selector matches no running pod has one placeholder slice with no endpoints and no ports", async () => {
  await service("empty");
  await pod("empty", "empty-pending");
  const slices = await slicesWhen("empty", (x) => x.length > 0, "a slice");
  expect(slices).toHaveLength(1);
  expect(slices[0]?.endpoints ?? null).toBeNull();
  expect(slices[0]?.ports ?? null).toBeNull();
  expect(slices[0]?.metadata?.labels).toMatchObject({ "kubernetes.io/service-name": "empty", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" });
});

it("a running pod becomes an endpoint with the container port under the Service port's name, its node, zone and uid", async () => {
  await service("web");
  await pod("web", "web-1");
  const running = await runPod(cluster.kc, ns, "web-1", { node, ip: "10.2.0.1", ready: false });
  const [slice] = await endpointsWhen("web", (eps) => eps.length === 1);
  expect(slice?.addressType).toBe("IPv4");
  expect(slice?.ports).toEqual([{ name: "http", protocol: "TCP", port: 8080 }]);
  expect(slice?.endpoints?.[0]).toMatchObject({ addresses: ["10.2.0.1"], nodeName: node, zone: "zone-x",
    conditions: { ready: false, serving: false, terminating: false }, targetRef: { kind: "Pod", namespace: ns, name: "web-1", uid: running.metadata?.uid } });
  await setPodReady(cluster.kc, ns, "web-1", true);
  await endpointsWhen("web", (eps) => eps[0]?.ready === true && eps[0].serving === true);
});

it("a deleted pod stays as a terminating endpoint until it is finished, then leaves the same slice", async () => {
  await service("term");
  await pod("term", "term-1");
  await pod("term", "term-2");
  await runPod(cluster.kc, ns, "term-1", { node, ip: "10.2.1.1" });
  await runPod(cluster.kc, ns, "term-2", { node, ip: "10.2.1.2" });
  const [before] = await endpointsWhen("term", (eps) => eps.filter((e) => e.ready === true).length === 2);
  await core.deleteNamespacedPod({ namespace: ns, name: "term-1", gracePeriodSeconds: 30 });
  await endpointsWhen("term", (eps) => eps.some((e) => e.name === "term-1" && e.ready === false && e.serving === true && e.terminating === true));
  await finishPod(cluster.kc, ns, "term-1");
  const [after] = await endpointsWhen("term", (eps) => eps.length === 1 && eps[0]?.name === "term-2");
  expect(after?.metadata?.name).toBe(before?.metadata?.name);
});

it("with publishNotReadyAddresses a not-ready or terminating pod stays ready", async () => {
  await service("pnr", { publishNotReadyAddresses: true });
  await pod("pnr", "pnr-1");
  await runPod(cluster.kc, ns, "pnr-1", { node, ip: "10.2.2.1", ready: false });
  await endpointsWhen("pnr", (eps) => eps[0]?.ready === true && eps[0].serving === false);
  await setPodReady(cluster.kc, ns, "pnr-1", true);
  await core.deleteNamespacedPod({ namespace: ns, name: "pnr-1", gracePeriodSeconds: 30 });
  await endpointsWhen("pnr", (eps) => eps[0]?.ready === true && eps[0].serving === true && eps[0].terminating === true);
});

it("a headless Service's slice carries the headless label", async () => {
  await service("hl", { clusterIP: "None" });
  const [slice] = await slicesWhen("hl", (x) => x.length > 0, "a slice");
  expect(slice?.metadata?.labels?.["service.kubernetes.io/headless"]).toBe("");
});

it("a pod on a node that does not exist is not an endpoint", async () => {
  await service("ghost");
  await pod("ghost", "ghost-1");
  await pod("ghost", "ghost-2");
  await core.createNamespacedPodBinding({ namespace: ns, name: "ghost-1", body: { metadata: { name: "ghost-1" }, target: { kind: "Node", name: "no-such-node" } } });
  const p = await core.readNamespacedPod({ namespace: ns, name: "ghost-1" });
  p.status = { ...p.status, phase: "Running", podIP: "10.2.3.1", podIPs: [{ ip: "10.2.3.1" }], conditions: [{ type: "Ready", status: "True" }] };
  await core.replaceNamespacedPodStatus({ namespace: ns, name: "ghost-1", body: p });
  await runPod(cluster.kc, ns, "ghost-2", { node, ip: "10.2.3.2" });
  await endpointsWhen("ghost", (eps) => eps.length === 1 && eps[0]?.name === "ghost-2");
});

it("last-change-trigger-time is the Service's creation, then each later Ready transition (to the second), and absent for other changes [source: trigger_time_tracker.go]", async () => {
  // Fixed transition times, so the result does not depend on when the writes happen (the real
  // server stores times at second precision; see conformance.test.ts).
  const key = "endpoints.kubernetes.io/last-change-trigger-time";
  const iso = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z");
  const annotation = (s: V1EndpointSlice[]): string | undefined => s[0]?.metadata?.annotations?.[key];
  const ready = (s: V1EndpointSlice[]): boolean | undefined => s[0]?.endpoints?.[0]?.conditions?.ready;
  const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  const setReady = async (isReady: boolean, at: number): Promise<void> => {
    const p = await core.readNamespacedPod({ namespace: ns, name: "trig-1" });
    p.status = { ...p.status, phase: "Running", podIP: "10.2.4.1", podIPs: [{ ip: "10.2.4.1" }],
      conditions: [{ type: "Ready", status: isReady ? "True" : "False", lastTransitionTime: new Date(at) }] };
    await core.replaceNamespacedPodStatus({ namespace: ns, name: "trig-1", body: p });
  };
  // A pod that became Ready before its Service existed: the first sync reports the Service's creation.
  await pod("trig", "trig-1");
  await core.createNamespacedPodBinding({ namespace: ns, name: "trig-1", body: { metadata: { name: "trig-1" }, target: { kind: "Node", name: node } } });
  await setReady(true, base);
  await service("trig");
  const created = (await core.readNamespacedService({ namespace: ns, name: "trig" })).metadata?.creationTimestamp ?? new Date(0);
  await slicesWhen("trig", (s) => ready(s) === true && annotation(s) === iso(created.getTime()), "the Service's creation as trigger time");
  // Within the same second as the last transition seen: not later, so no trigger time.
  await setReady(false, base + 400);
  await slicesWhen("trig", (s) => ready(s) === false && annotation(s) === undefined, "no trigger time for a transition in the same second");
  await setReady(true, base + 5_000);
  await slicesWhen("trig", (s) => ready(s) === true && annotation(s) === iso(base + 5_000), "the later transition as trigger time");
  await core.deleteNamespacedPod({ namespace: ns, name: "trig-1", gracePeriodSeconds: 30 });
  await slicesWhen("trig", (s) => s[0]?.endpoints?.[0]?.conditions?.terminating === true && annotation(s) === undefined, "no trigger time for a deletion");
});
