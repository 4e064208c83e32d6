// Admission compared with the recordings from a real v1.36.2 server (test/fixtures/real/admission-*):
// the AdmissionReview's keys, and the object each webhook sees after defaulting, the ServiceAccount
// plugin, earlier patches and reinvocation.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { V1Pod } from "@kubernetes/client-node";
import { admissionSuite } from "../support/webhookharness.ts";
import type { Review } from "../support/webhook.ts";

const suite = admissionSuite("fakeapi-admconf");
const { webhook, register } = suite;
const fixtures = join(import.meta.dirname, "..", "fixtures", "real");
const container = { name: "app", image: "registry.example.invalid/app:1.0" };
const plainPod = (name: string) => ({ metadata: { name }, spec: { containers: [container] } });

/**
 * Makes a pod comparable with a recorded one: drops managedFields and ownerReferences (not tracked /
 * controller-specific), the namespace and the token volume's random suffix, and the OpenShift-only
 * service CA source the recordings carry.
 */
function normalise(o: unknown): unknown {
  return JSON.parse(JSON.stringify(o, (k, v: unknown) => {
    if (k === "managedFields" || k === "ownerReferences" || k === "finalizers") return undefined;
    if (k === "namespace" && v !== "metadata.namespace") return "NS";
    if (typeof v === "string" && v.startsWith("kube-api-access-")) return "kube-api-access";
    if (k === "sources" && Array.isArray(v)) return (v as { configMap?: { name?: string } }[]).filter((s) => s.configMap?.name !== "openshift-service-ca.crt");
    return v;
  }));
}

describe("the AdmissionReview matches the recorded ones", () => {
  function keysOf(o: unknown, depth: number): unknown {
    if (typeof o !== "object" || o === null || Array.isArray(o) || depth === 0) return typeof o;
    return Object.fromEntries(Object.entries(o).filter(([k]) => k !== "extra").map(([k, v]) => [k, keysOf(v, depth - 1)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  }
  const recorded = (file: string): Review => JSON.parse(readFileSync(join(fixtures, file), "utf8")) as Review;

  it("has the recorded keys for a named pod, for a generateName pod (no name key) and for a dry run", async () => {
    const w = await webhook(() => ({ allowed: true }));
    await register("shape", w.url);
    // As kubectl apply sent it for the recording.
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("shape"), fieldManager: "kubectl-client-side-apply", fieldValidation: "Strict" });
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: { metadata: { generateName: "shape-" }, spec: { containers: [container] } } });
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("shape-dry"), dryRun: "All", fieldManager: "kubectl-client-side-apply", fieldValidation: "Strict" });
    const [named, generated, dry] = w.reviews;
    // userInfo.uid is left out: it depends on who calls, not on the server. The recordings were made
    // by a service account, which has a uid; a client-certificate user (the real-cluster run's admin)
    // has none. username and groups are always there and stay compared.
    const withoutObject = (r: Review | undefined): unknown => {
      const userInfo = Object.fromEntries(Object.entries((r?.request["userInfo"] ?? {}) as Record<string, unknown>).filter(([k]) => k !== "uid"));
      return keysOf({ ...r?.request, object: "object", userInfo }, 3);
    };
    expect(withoutObject(named)).toEqual(withoutObject(recorded("admission-plain-pod.json")));
    expect(withoutObject(generated)).toEqual(withoutObject(recorded("admission-deployment-pod.json")));
    expect(generated?.request["object"]).not.toHaveProperty("metadata.name");
    expect(dry?.request["dryRun"]).toBe(true);
    expect(withoutObject(dry)).toEqual(withoutObject(recorded("admission-dryrun.json")));
  });

  // kubectl-applied recordings carry their input in last-applied-configuration: replay it and
  // compare the defaulted object the webhook sees. Normalised: managedFields (not tracked by the
  // fake), the service-account volume's random suffix, the OpenShift-only service CA source.
  const replayable = ["plain-pod", "sidecar", "existing-prestop", "two-containers-no-grace", "hostnetwork", "nodeselector-arm64", "windows"];
  it.each(replayable)("defaults the %s pod as the real server did before calling webhooks", async (name) => {
    const w = await webhook(() => ({ allowed: true }));
    await register(`default-${name}`, w.url);
    const rec = recorded(`admission-${name}.json`).request.object;
    const annotations = (rec["metadata"] as { annotations: Record<string, string> }).annotations;
    const input = JSON.parse(annotations["kubectl.kubernetes.io/last-applied-configuration"] ?? "{}") as V1Pod;
    input.metadata = { ...input.metadata, namespace: suite.ns, annotations };
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: input });
    expect(normalise(w.reviews[0]?.request.object)).toEqual(normalise(rec));
  });
});

// Pods made by controllers carry no last-applied input: create the recorded object itself, minus
// what the ServiceAccount plugin adds, and expect it back unchanged (defaulting is idempotent).
describe.each(["deployment-pod", "statefulset-pod", "job-pod", "daemonset-pod", "dryrun", "b4-lifecycle-only-review"])("the recorded %s", (name) => {
  it("comes back from defaulting and the ServiceAccount plugin as recorded", async () => {
    const w = await webhook(() => ({ allowed: true }));
    await register(`idem-${name}`, w.url);
    const rec = (JSON.parse(readFileSync(join(fixtures, `admission-${name}.json`), "utf8")) as Review).request.object;
    const input = JSON.parse(JSON.stringify(rec, (k, v: unknown) => {
      // The owner and its finalizer (a Job's job-tracking) belong to controllers this test has not.
      if (k === "managedFields" || k === "ownerReferences" || k === "finalizers") return undefined;
      if (k === "namespace") return suite.ns;
      if (k === "volumes" || k === "volumeMounts") return (v as { name: string }[]).filter((x) => !x.name.startsWith("kube-api-access-"));
      return v;
    })) as V1Pod;
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: input });
    expect(normalise(w.reviews[0]?.request.object)).toEqual(normalise(rec));
  });
});

it("reproduces the recorded reinvocation: what each webhook saw, defaulted after every patch", async () => {
  const rec = (n: string): Record<string, unknown> => (JSON.parse(readFileSync(join(fixtures, `admission-reinvocation-${n}.json`), "utf8")) as Review).request.object;
  // The lameduck patch of the recording, without the fields the server defaulted afterwards
  // (defaultMode, fieldRef.apiVersion): the fake must add those itself.
  const hookVolume = { name: "lameduck", projected: { sources: [
    { configMap: { name: "lameduck-hook-abc123", items: [{ key: "hook-amd64", path: "hook", mode: 365 }], optional: true } },
    { downwardAPI: { items: ["uid", "name", "namespace"].map((f) => ({ path: f, fieldRef: { fieldPath: `metadata.${f}` } })) } },
  ] } };
  const lameduck = await webhook((r) => {
    const spec = r.request.object["spec"] as { volumes?: { name: string }[] };
    if (spec.volumes?.some((v) => v.name === "lameduck") === true) return { allowed: true };
    return { allowed: true, patch: [
      { op: "add", path: "/spec/volumes/-", value: hookVolume },
      { op: "add", path: "/spec/containers/0/volumeMounts/-", value: { name: "lameduck", readOnly: true, mountPath: "/lameduck" } },
      { op: "add", path: "/spec/containers/0/lifecycle", value: { preStop: { exec: { command: ["/lameduck/hook", "wait"] } } } },
    ] };
  });
  const sidecar = await webhook((r) => {
    const containers = (r.request.object["spec"] as { containers: { name: string }[] }).containers;
    return { allowed: true, ...(containers.length > 1 ? {} : { patch: [{ op: "add", path: "/spec/containers/-", value: { name: "injected-sidecar", image: "example.invalid/sidecar:1" } }] }) };
  });
  await register("a-lameduck", lameduck.url, { reinvocationPolicy: "IfNeeded" });
  await register("b-sidecar", sidecar.url);
  await suite.core.createNamespacedPod({ namespace: suite.ns, body: { metadata: { name: "reinvoke" }, spec: { containers: [container] } } });
  expect(lameduck.reviews).toHaveLength(2);
  expect(normalise(lameduck.reviews[0]?.request.object)).toEqual(normalise(rec("1-lameduck")));
  expect(normalise(sidecar.reviews[0]?.request.object)).toEqual(normalise(rec("2-sidecar")));
  expect(normalise(lameduck.reviews[1]?.request.object)).toEqual(normalise(rec("3-lameduck-reinvoked")));
});
