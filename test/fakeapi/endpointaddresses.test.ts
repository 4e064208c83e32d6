// EndpointSlice addresses as a real API server validates them (pkg/apis/discovery/validation,
// ValidateEndpointIP): through the API, and for the EndpointSlice controller's own writes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, DiscoveryV1Api, type V1EndpointSlice } from "@kubernetes/client-node";
import { createNamespace, createNode, deleteNamespace, runPod, startCluster } from "../support/cluster.ts";
import type { Cluster } from "../support/cluster.ts";
import { failureOf } from "../support/apierrors.ts";
import { endpointIpMessages, parseIp } from "./ips.ts";

describe("ValidateEndpointIP, as Go's net.IP judges the address [source: pkg/apis/core/validation]", () => {
  it("accepts ordinary addresses of either family", () => {
    for (const ip of ["10.0.0.1", "192.0.2.2", "fd00::2", "2001:db8::1", "224.0.1.1"]) expect(endpointIpMessages(ip), ip).toEqual([]);
  });
  it("refuses unspecified, loopback, link-local and link-local multicast, also IPv4-mapped", () => {
    expect(endpointIpMessages("0.0.0.0")).toEqual(["may not be unspecified (0.0.0.0)"]);
    expect(endpointIpMessages("::")).toEqual(["may not be unspecified (::)"]);
    for (const ip of ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"]) expect(endpointIpMessages(ip), ip).toEqual(["may not be in the loopback range (127.0.0.0/8, ::1/128)"]);
    for (const ip of ["169.254.169.254", "fe80::1", "febf::1"]) expect(endpointIpMessages(ip), ip).toEqual(["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]);
    for (const ip of ["224.0.0.251", "ff02::1"]) expect(endpointIpMessages(ip), ip).toEqual(["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]);
    expect(endpointIpMessages("localhost")).toEqual(["must be a valid IP address"]);
  });
  it("parses as ParseIPSloppy: leading zeros in IPv4, no zones, embedded IPv4 in IPv6", () => {
    expect(parseIp("010.000.000.001")).toEqual(parseIp("10.0.0.1"));
    expect(parseIp("fe80::1%eth0")).toBeUndefined();
    expect(parseIp("256.0.0.1")).toBeUndefined();
    expect(parseIp("::ffff:10.0.0.1")).toEqual(parseIp("10.0.0.1"));
    expect(parseIp("2001:db8::1")?.[15]).toBe(1);
  });
});

describe("EndpointSlice addresses on the server", () => {
  let cluster: Cluster;
  let core: CoreV1Api;
  let discovery: DiscoveryV1Api;
  let ns: string;
  const node = `epaddr-node-${String(process.pid)}`;

  beforeAll(async () => {
    cluster = await startCluster();
    core = cluster.kc.makeApiClient(CoreV1Api);
    discovery = cluster.kc.makeApiClient(DiscoveryV1Api);
    ns = await createNamespace(cluster.kc, "fakeapi-epaddr");
    await createNode(cluster.kc, { name: node, ip: "192.0.2.30" });
  });

  afterAll(async () => {
    await deleteNamespace(cluster.kc, ns);
    await core.deleteNode({ name: node }).catch(() => undefined);
    await cluster.close();
  });

  const slice = (name: string, addressType: string, addresses: string[]): V1EndpointSlice => ({
    metadata: { name, labels: { "kubernetes.io/service-name": "manual" } },
    addressType,
    endpoints: [{ addresses: [addressType === "IPv6" ? "fd00:3::1" : "10.3.0.1"] }, { addresses }],
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  });

  it("a slice written through the API with a loopback address gets the real 422, naming endpoints[i].addresses[j] [source: discovery validation.go]", async () => {
    const f = await failureOf(discovery.createNamespacedEndpointSlice({ namespace: ns, body: slice("lo", "IPv4", ["10.3.0.2", "127.0.0.1"]) }));
    expect(f.code).toBe(422);
    expect(f.status).toMatchObject({
      reason: "Invalid",
      message: 'EndpointSlice.discovery.k8s.io "lo" is invalid: endpoints[1].addresses[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      details: { name: "lo", group: "discovery.k8s.io", kind: "EndpointSlice", causes: [{ reason: "FieldValueInvalid", field: "endpoints[1].addresses[1]" }] },
    });
  });

  it("checks the family and the special ranges both, and an update as a create [source: discovery validation.go]", async () => {
    const v6 = await failureOf(discovery.createNamespacedEndpointSlice({ namespace: ns, body: slice("v6", "IPv6", ["fe80::1", "10.3.0.3"]) }));
    expect(v6.status["message"]).toBe('EndpointSlice.discovery.k8s.io "v6" is invalid: [endpoints[1].addresses[0]: Invalid value: "fe80::1": may not be in the link-local range (169.254.0.0/16, fe80::/10), endpoints[1].addresses[1]: Invalid value: "10.3.0.3": must be a valid IPv6 address]');
    const ok = await discovery.createNamespacedEndpointSlice({ namespace: ns, body: slice("ok", "IPv4", ["10.3.0.4"]) });
    const up = await failureOf(discovery.replaceNamespacedEndpointSlice({ namespace: ns, name: "ok", body: { ...ok, endpoints: [{ addresses: ["169.254.169.254"] }] } }));
    expect(up.status["message"]).toBe('EndpointSlice.discovery.k8s.io "ok" is invalid: endpoints[0].addresses[0]: Invalid value: "169.254.169.254": may not be in the link-local range (169.254.0.0/16, fe80::/10)');
  });

  it("the controller cannot publish a pod at 127.0.0.1 either: its sync is refused, the slice keeps what it had, a Warning Event says why", async () => {
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] } } });
    const pod = (name: string) => core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "registry.example.invalid/app:1.0", ports: [{ name: "http", containerPort: 8080 }] }] } } });
    await pod("good");
    await runPod(cluster.kc, ns, "good", { node, ip: "10.3.1.1" });
    const addresses = async (): Promise<string[]> => (await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: "kubernetes.io/service-name=web" })).items.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses));
    const deadline = Date.now() + 15_000;
    while ((await addresses()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await addresses()).toEqual(["10.3.1.1"]);

    await pod("local");
    await runPod(cluster.kc, ns, "local", { node, ip: "127.0.0.1" });
    const refusal = async () => (await core.listNamespacedEvent({ namespace: ns, fieldSelector: "involvedObject.name=web" })).items.find((e) => e.reason === "FailedToUpdateEndpointSlices");
    while ((await refusal()) === undefined && Date.now() < deadline + 15_000) await new Promise((r) => setTimeout(r, 50));
    const event = await refusal();
    expect(event).toMatchObject({ type: "Warning", involvedObject: { kind: "Service", name: "web", namespace: ns } });
    expect(event?.message).toContain('endpoints[1].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)');
    expect(await addresses()).toEqual(["10.3.1.1"]);
  });
});
