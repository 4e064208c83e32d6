import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../injector/backoff.ts";
import { nativeSleepSupported, serviceAddress } from "../../injector/informers/cached-facts.ts";
import { makeTokenBucket, outOfRotationEvent } from "../../injector/oracle/events.ts";
import { namespaceInjected, namespaceTerminating } from "../../injector/namespace-policy.ts";

const optOut = { namespaceSelection: "opt-out", excludedNamespaces: ["lameduck-system", "kube-system"] } as const;
const optIn = { ...optOut, namespaceSelection: "opt-in" } as const;
const ns = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}) => ({ metadata: { name: "shop", labels, annotations } });

describe("which namespaces lameduck applies to", () => {
  it("every namespace but the excluded ones under opt-out", () => {
    expect(namespaceInjected("shop", ns(), optOut)).toEqual({ inject: true });
    expect(namespaceInjected("kube-system", ns(), optOut).inject).toBe(false);
  });
  it("a namespace opts out with the label, and an annotation alone switches nothing, as the webhook's namespaceSelector sees only labels", () => {
    expect(namespaceInjected("shop", ns({ "lameduck.dev/inject": "false" }), optOut)).toEqual({ inject: false, reason: "namespace-opt-out" });
    expect(namespaceInjected("shop", ns({}, { "lameduck.dev/inject": "false" }), optOut).inject).toBe(true);
    expect(namespaceInjected("shop", ns({ "lameduck.dev/inject": "true" }, { "lameduck.dev/inject": "false" }), optOut).inject).toBe(true);
  });
  it("under opt-in only namespaces labelled true, and a value that is not a boolean counts as unset", () => {
    expect(namespaceInjected("shop", ns(), optIn)).toEqual({ inject: false, reason: "namespace-not-opted-in" });
    expect(namespaceInjected("shop", ns({ "lameduck.dev/inject": "yes" }), optIn).inject).toBe(false);
    expect(namespaceInjected("shop", ns({}, { "lameduck.dev/inject": "true" }), optIn).inject).toBe(false);
    expect(namespaceInjected("shop", ns({ "lameduck.dev/inject": "true" }), optIn).inject).toBe(true);
  });
  it("a namespace with a deletion timestamp or in phase Terminating is being deleted", () => {
    expect(namespaceTerminating({ metadata: { deletionTimestamp: new Date() } })).toBe(true);
    expect(namespaceTerminating({ status: { phase: "Terminating" } })).toBe(true);
    expect(namespaceTerminating({ status: { phase: "Active" } })).toBe(false);
  });
});

describe("cluster facts helpers", () => {
  it("the native sleep action is used from Kubernetes 1.30 on", () => {
    expect(nativeSleepSupported({ major: "1", minor: "29" })).toBe(false);
    expect(nativeSleepSupported({ major: "1", minor: "30+" })).toBe(true);
    expect(nativeSleepSupported({ major: "1", minor: "36" })).toBe(true);
    expect(nativeSleepSupported({ major: "", minor: "" })).toBe(false);
  });
  it("the oracle's address is its Service's ClusterIP and oracle port", () => {
    const svc = (clusterIP: string, ports: { name?: string; port: number }[]) => ({ spec: { clusterIP, ports } });
    expect(serviceAddress(svc("10.96.40.7", [{ name: "metrics", port: 9090 }, { name: "oracle", port: 8080 }]))).toBe("10.96.40.7:8080");
    expect(serviceAddress(svc("fd00::7", [{ port: 8080 }]))).toBe("[fd00::7]:8080");
    expect(serviceAddress(svc("None", [{ port: 8080 }]))).toBeUndefined();
    expect(serviceAddress(undefined)).toBeUndefined();
  });
});

describe("restart backoff", () => {
  it("doubles from the base up to the cap, with jitter between half and all of it", () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, 500, 30_000, () => 0.999_999))).toEqual([500, 1000, 2000, 4000, 30_000]);
    expect(backoffDelay(2, 500, 30_000, () => 0)).toBe(1000);
  });
  it("without a random source (the distributor's per-key retries, as client-go's workqueue) is exactly the doubling", () => {
    expect([0, 1, 2, 3, 20, 100].map((n) => backoffDelay(n, 50, 60_000))).toEqual([50, 100, 200, 400, 60_000, 60_000]);
  });
});

describe("OutOfRotation events", () => {
  it("a token bucket admits the burst, then the rate", () => {
    let t = 0;
    const bucket = makeTokenBucket(10, 5, () => t);
    const admitted = Array.from({ length: 8 }, () => bucket.take()).filter(Boolean).length;
    expect(admitted).toBe(5);
    t += 300;
    expect(Array.from({ length: 8 }, () => bucket.take()).filter(Boolean).length).toBe(3);
  });
  it("names the pod and says how long the drain took", () => {
    const e = outOfRotationEvent({ namespace: "shop", name: "web-1", uid: "u1" }, 0.2149, "lameduck-0", new Date(0));
    expect(e).toMatchObject({
      reason: "OutOfRotation",
      message: "out of rotation after 0.21s",
      type: "Normal",
      involvedObject: { kind: "Pod", namespace: "shop", name: "web-1", uid: "u1" },
      metadata: { namespace: "shop" },
    });
    expect(e.metadata.name).toMatch(/^web-1\.[0-9a-f]+$/);
  });
});
