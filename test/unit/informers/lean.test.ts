import { describe, expect, it } from "vitest";
import { configMapDigest, leanConfigMap, leanEndpointSlice, leanNamespace, leanNode, type LeanEndpointSlice } from "../../../injector/informers/lean.ts";

const bulky = {
  managedFields: [{ manager: "x", fieldsV1: { "f:data": {} } }],
  annotations: { "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(10_000) },
  ownerReferences: [{ kind: "Service", name: "web" }],
};

describe("what the caches keep of an object", () => {
  it("an EndpointSlice keeps its port numbers and each endpoint's conditions, node and targetRef, nothing else", () => {
    const lean = leanEndpointSlice({
      metadata: { name: "web-abc", namespace: "shop", uid: "s1", resourceVersion: "7", labels: { "kubernetes.io/service-name": "web" }, ...bulky },
      addressType: "IPv4",
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      endpoints: [
        {
          addresses: ["10.1.0.10"],
          conditions: { ready: true, serving: true, terminating: false },
          hostname: "web-0",
          nodeName: "node-a",
          zone: "z1",
          hints: { forZones: [{ name: "z1" }] },
          targetRef: { kind: "Pod", namespace: "shop", name: "web-0", uid: "p1", resourceVersion: "3" },
        },
      ],
    });
    expect(lean).toEqual({
      metadata: { name: "web-abc", namespace: "shop", uid: "s1", resourceVersion: "7" },
      ports: [{ port: 8080 }],
      endpoints: [{ conditions: { ready: true, serving: true, terminating: false }, nodeName: "node-a", targetRef: { namespace: "shop", name: "web-0", uid: "p1" } }],
    });
  });

  it("a ConfigMap keeps its name and lameduck's two labels, never its content", () => {
    const lean = leanConfigMap({ metadata: { name: "lameduck-hook-1", namespace: "t", uid: "u", resourceVersion: "9", labels: { "app.kubernetes.io/managed-by": "lameduck", "lameduck.dev/hook": "1", other: "z" }, ...bulky }, data: { big: "y".repeat(900_000) }, immutable: true });
    expect(lean).toEqual({ metadata: { name: "lameduck-hook-1", namespace: "t", uid: "u", resourceVersion: "9", labels: { "app.kubernetes.io/managed-by": "lameduck", "lameduck.dev/hook": "1" } } });
  });

  it("the content digest tells apart data from binaryData, keys from values, and any change of either", () => {
    const digests = [
      configMapDigest({ data: { a: "b" } }),
      configMapDigest({ binaryData: { a: "b" } }),
      configMapDigest({ data: { a: "b", c: "" } }),
      configMapDigest({ data: { "a\0": "b" } }),
      configMapDigest({ data: { a: "b\0" } }),
      configMapDigest({ data: { ab: "" } }),
      configMapDigest({}),
    ];
    expect(new Set(digests).size).toBe(digests.length);
    expect(configMapDigest({ data: { a: "1", b: "2" } })).toBe(configMapDigest({ data: { b: "2", a: "1" } }));
  });

  it("a namespace keeps only lameduck's labels and annotations, and a deletion timestamp reads as Terminating", () => {
    expect(leanNamespace({ metadata: { name: "shop", labels: { "lameduck.dev/inject": "false", team: "a" }, annotations: { "lameduck.dev/max": "20s", note: "n" }, deletionTimestamp: "2026-01-01T00:00:00Z" }, status: { phase: "Active" } })).toEqual({
      metadata: { name: "shop", labels: { "lameduck.dev/inject": "false" }, annotations: { "lameduck.dev/max": "20s" } },
      status: { phase: "Terminating" },
    });
  });

  it("a node keeps its architecture, its addresses and its Ready condition", () => {
    const lean = leanNode({
      metadata: { name: "n", labels: { "kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux" } },
      status: {
        addresses: [{ type: "InternalIP", address: "192.168.1.10" }],
        conditions: [{ type: "MemoryPressure", status: "False" }, { type: "Ready", status: "False", reason: "KubeletNotReady", message: "node is shutting down" }],
        images: [{ names: ["x"], sizeBytes: 1 }],
      },
    });
    expect(lean).toEqual({
      metadata: { name: "n", labels: { "kubernetes.io/arch": "arm64" } },
      status: { addresses: [{ type: "InternalIP", address: "192.168.1.10" }], conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady", message: "node is shutting down" }] },
    });
  });

  it("an object without a name is skipped", () => {
    expect(leanEndpointSlice({ metadata: {} })).toBeUndefined();
    expect(leanConfigMap("nonsense")).toBeUndefined();
  });
});

describe("an EndpointSlice update shares the cached copy's unchanged parts", () => {
  const endpoint = (uid: string, ready = true) => ({ addresses: ["10.1.0.1"], conditions: { ready, serving: ready, terminating: !ready }, nodeName: "node-a", targetRef: { kind: "Pod", namespace: "shop", name: `web-${uid}`, uid } });
  const raw = (rv: string, endpoints: object[], ports = [8080]) => ({ metadata: { name: "web-abc", namespace: "shop", resourceVersion: rv }, ports: ports.map((port) => ({ port })), endpoints });
  const version = (rv: string, endpoints: object[], ports = [8080], cached?: LeanEndpointSlice): LeanEndpointSlice => {
    const lean = leanEndpointSlice(raw(rv, endpoints, ports), cached);
    if (lean === undefined) throw new Error("no slice");
    return lean;
  };

  it("keeps the cached arrays when nothing lameduck reads changed, and takes the new metadata", () => {
    const cached = version("1", [endpoint("p1"), endpoint("p2")]);
    const next = version("2", [{ ...endpoint("p1"), zone: "z9" }, endpoint("p2")], [8080], cached);
    expect(next.endpoints).toBe(cached.endpoints);
    expect(next.ports).toBe(cached.ports);
    expect(next.metadata.resourceVersion).toBe("2");
  });

  it("takes the changed endpoint and the changed ports, reusing every other endpoint, also when reordered", () => {
    const cached = version("1", [endpoint("p1"), endpoint("p2"), endpoint("p3")]);
    const update = [endpoint("p3"), endpoint("p2", false), endpoint("p1")];
    const next = version("2", update, [8080, 9090], cached);
    expect(next).toEqual(version("2", update, [8080, 9090]));
    expect(next.ports).toEqual([{ port: 8080 }, { port: 9090 }]);
    expect(next.endpoints?.[0]).toBe(cached.endpoints?.[2]);
    expect(next.endpoints?.[1]).not.toBe(cached.endpoints?.[1]);
    expect(next.endpoints?.[2]).toBe(cached.endpoints?.[0]);
  });

  it("never reuses an endpoint that differs in any field it keeps", () => {
    const base = endpoint("p1");
    const variants = [
      { ...base, nodeName: "node-b" },
      { ...base, nodeName: undefined },
      { ...base, conditions: { ready: true, serving: false, terminating: false } },
      { ...base, conditions: { ready: true, serving: true } },
      { ...base, conditions: {} },
      { ...base, targetRef: { ...base.targetRef, name: "web-other" } },
      { ...base, targetRef: { ...base.targetRef, namespace: "other" } },
      { addresses: base.addresses, conditions: base.conditions, nodeName: base.nodeName },
    ];
    const cached = version("1", [base]);
    for (const variant of variants) {
      const next = version("2", [variant], [8080], cached);
      expect(next.endpoints?.[0]).not.toBe(cached.endpoints?.[0]);
      expect(next).toEqual(version("2", [variant]));
    }
    expect(version("3", [], [8080], cached).endpoints).toEqual([]);
    expect(version("4", [base, endpoint("p2")], [8080], cached).endpoints).toHaveLength(2);
    expect(version("5", [base], [], cached).ports).toEqual([]);
  });
});
