import { describe, expect, it } from "vitest";
import { configMapDigest, leanConfigMap, leanEndpointSlice, leanNamespace, leanNode } from "../../../injector/informers/lean.ts";

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
