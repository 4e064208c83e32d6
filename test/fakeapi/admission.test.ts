// Admission through test webhooks with real TLS handshakes. Every webhook configuration is scoped by
// namespaceSelector to the test's own namespace, so the suite is safe against a shared real cluster.
import { describe, expect, it } from "vitest";
import { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { startCluster, targetsRealCluster } from "../support/cluster.ts";
import { failureOf } from "../support/apierrors.ts";
import { makeTestPki } from "../support/tls.ts";
import { admissionSuite } from "../support/webhookharness.ts";

const suite = admissionSuite("fakeapi-adm");
const { webhook, register } = suite;

const container = { name: "app", image: "registry.example.invalid/app:1.0" };

const plainPod = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, spec: { containers: [container] } });
const annotate = (key: string): unknown[] => [{ op: "add", path: `/metadata/annotations`, value: { [key]: "yes" } }];

it("a pod CREATE calls the matching webhook over verified TLS and stores the patched pod", async () => {
  const w = await webhook(() => ({ allowed: true, patch: [
    { op: "add", path: "/metadata/annotations", value: { "lameduck.dev/injected": "v1 wait" } },
    { op: "add", path: "/spec/volumes/-", value: { name: "lameduck", emptyDir: {} } },
    { op: "add", path: "/spec/containers/0/volumeMounts/-", value: { name: "lameduck", mountPath: "/.lameduck", readOnly: true } },
  ] }));
  await register("patch", w.url);
  const created = await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("patched") });
  expect(created.metadata?.annotations).toEqual({ "lameduck.dev/injected": "v1 wait" });
  expect(created.spec?.containers[0]?.volumeMounts?.map((m) => m.mountPath)).toContain("/.lameduck");
  expect(w.reviews).toHaveLength(1);
  const request = w.reviews[0]?.request;
  expect(request).toMatchObject({ kind: { group: "", version: "v1", kind: "Pod" }, resource: { group: "", version: "v1", resource: "pods" },
    name: "patched", namespace: suite.ns, operation: "CREATE", oldObject: null, dryRun: false, options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" } });
});

describe("failurePolicy", () => {
  it("Ignore fails open when the webhook cannot be reached; Fail rejects with the real message", async () => {
    const w = await webhook(() => ({ allowed: true }));
    const url = w.url;
    await w.close();
    await register("down", url, { failurePolicy: "Ignore" });
    const created = await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("down-ignore") });
    expect(created.metadata?.annotations).toBeUndefined();
    await register("down-fail", url, { failurePolicy: "Fail" });
    const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("down-fail") }));
    expect(f.code).toBe(500);
    expect(String(f.status["message"])).toMatch(/^Internal error occurred: failed calling webhook "down-fail\.lameduck\.test": failed to call webhook: Post "https:\/\/127\.0\.0\.1:\d+\/mutate\?timeout=5s": .*(refused|ECONNREFUSED)/);
  });

  it("a server certificate the caBundle does not vouch for counts as a failed call", async () => {
    const other = await makeTestPki();
    const w = await webhook(() => ({ allowed: true, patch: annotate("tls") }));
    await register("badca-ignore", w.url, { failurePolicy: "Ignore", clientConfig: { url: w.url, caBundle: other.caBundle } });
    const created = await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("badca-ignore") });
    expect(created.metadata?.annotations).toBeUndefined();
    expect(w.reviews).toHaveLength(0);
    await register("badca-fail", w.url, { failurePolicy: "Fail", clientConfig: { url: w.url, caBundle: other.caBundle } });
    expect((await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("badca-fail") }))).code).toBe(500);
  });

  it("an unreadable response is a failed call that Ignore forgives", async () => {
    const w = await webhook(() => "raw-garbage");
    await register("garbage", w.url, { failurePolicy: "Ignore" });
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("garbage") });
    expect(w.reviews).toHaveLength(1);
  });

  it("a webhook slower than timeoutSeconds is abandoned, and Ignore lets the pod through unpatched", async () => {
    const w = await webhook(async () => {
      await new Promise((r) => setTimeout(r, 2500));
      return { allowed: true, patch: annotate("slow") };
    });
    await register("slow", w.url, { failurePolicy: "Ignore", timeoutSeconds: 1 });
    const created = await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("slow") });
    expect(created.metadata?.annotations).toBeUndefined();
  });

  it("a patch that does not apply fails the CREATE with 500 even under Ignore", async () => {
    const w = await webhook(() => ({ allowed: true, patch: [{ op: "add", path: "/spec/nothing/here/-", value: 1 }] }));
    await register("badpatch", w.url, { failurePolicy: "Ignore" });
    const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("badpatch") }));
    expect(f.code).toBe(500);
    expect(f.status["reason"]).toBe("InternalError");
  });

  it("a patch that yields an invalid pod fails with the real 422 text even under Ignore", async () => {
    const w = await webhook(() => ({ allowed: true, patch: [{ op: "add", path: "/spec/containers/0/lifecycle", value: { preStop: { sleep: { seconds: 31 } } } }] }));
    await register("invalid", w.url, { failurePolicy: "Ignore" });
    const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("invalid") }));
    expect(f.code).toBe(422);
    // Recorded from v1.36.2 (test/fixtures/real/suite-failures-v1.36.2.txt).
    expect(f.status["message"]).toBe('Pod "invalid" is invalid: spec.containers[0].lifecycle.preStop.sleep: Invalid value: 31: must be non-negative and less than terminationGracePeriodSeconds (30)');
  });

  it("a patch that is not a JSON Patch array is a failed call: Ignore admits the pod unpatched, Fail rejects it [source: mutating/dispatcher.go]", async () => {
    const w = await webhook(() => ({ allowed: true, patch: { op: "add", path: "/metadata/annotations", value: { x: "y" } } }));
    await register("undecodable", w.url, { failurePolicy: "Ignore" });
    const created = await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("undecodable") });
    expect(created.metadata?.annotations).toBeUndefined();
    await register("undecodable-fail", w.url, { failurePolicy: "Fail" });
    const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("undecodable-fail") }));
    expect(f.code).toBe(500);
    // The decoder's own wording follows; only the apiserver's part is asserted.
    expect(String(f.status["message"])).toMatch(/^Internal error occurred: failed calling webhook "undecodable-fail\.lameduck\.test": received undecodable patch in webhook response: /);
  });

  it("a patch that yields a wrongly typed field fails with 500", async () => {
    const w = await webhook(() => ({ allowed: true, patch: [{ op: "add", path: "/spec/containers/0/lifecycle", value: { preStop: { exec: { command: "/hook wait" } } } }] }));
    await register("wrongtype", w.url, { failurePolicy: "Ignore" });
    const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("wrongtype") }));
    expect(f.code).toBe(500);
    expect(String(f.status["message"])).toContain("cannot unmarshal string into Go struct field");
  });

  it("a denial rejects the CREATE with the webhook's message", async () => {
    const w = await webhook(() => ({ allowed: false, status: { code: 403, message: "no pods today" } }));
    await register("deny", w.url);
    const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("denied") }));
    expect(f.code).toBe(403);
    expect(f.status["message"]).toBe('admission webhook "deny.lameduck.test" denied the request: no pods today');
  });

  it("a denial without a message falls back to its reason, then to 'without explanation' [source: webhook/errors/statuserror.go]", async () => {
    const w = await webhook((r) => (r.request["name"] === "reasoned" ? { allowed: false, status: { code: 403, reason: "Forbidden" } } : { allowed: false }));
    await register("mute", w.url);
    const reasoned = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("reasoned") }));
    expect(reasoned.status["message"]).toBe('admission webhook "mute.lameduck.test" denied the request: Forbidden');
    const bare = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("bare") }));
    expect(bare.status["message"]).toBe('admission webhook "mute.lameduck.test" denied the request without explanation');
    // No code in the webhook's status: the API server's default for a failure (ErrorToAPIStatus).
    expect(bare.code).toBe(500);
  });
});

describe("matching", () => {
  it("objectSelector, rules for other operations and subresource rules keep a webhook from being called", async () => {
    const w = await webhook(() => ({ allowed: true }));
    await register("objsel", w.url, { objectSelector: { matchExpressions: [{ key: "skip", operator: "DoesNotExist" }] } });
    await register("update-only", w.url, { rules: [{ operations: ["UPDATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }] });
    await register("status-only", w.url, { rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods/status"] }] });
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("selected-out", { skip: "yes" }) });
    expect(w.reviews).toHaveLength(0);
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("selected-in") });
    expect(w.reviews).toHaveLength(1);
  });

  it("a namespaceSelector that does not match the namespace keeps the webhook from being called", async () => {
    const w = await webhook(() => ({ allowed: true }));
    await register("nssel", w.url, { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": `${suite.ns}-other` } } });
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("nssel") });
    expect(w.reviews).toHaveLength(0);
  });

  it("a matchCondition that is false keeps the webhook from being called", async () => {
    const w = await webhook(() => ({ allowed: true }));
    await register("cond", w.url, { matchConditions: [{ name: "not-opted-out", expression: "!has(object.metadata.labels) || !('opt-out' in object.metadata.labels)" }] });
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("cond-out", { "opt-out": "true" }) });
    expect(w.reviews).toHaveLength(0);
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("cond-in") });
    expect(w.reviews).toHaveLength(1);
  });

  it("a matchCondition with a macro is evaluated", async () => {
    const w = await webhook(() => ({ allowed: true }));
    await register("macro", w.url, { matchConditions: [{ name: "has-app", expression: "object.spec.containers.exists(c, c.name == 'app') && !object.spec.containers.all(c, c.name.startsWith('side'))" }] });
    await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("macro") });
    expect(w.reviews).toHaveLength(1);
  });

  it("a matchCondition that fails at run time fails the request under failurePolicy Fail", async () => {
    const w = await webhook(() => ({ allowed: true }));
    await register("rt", w.url, { matchConditions: [{ name: "missing-key", expression: "object.metadata.annotations['absent'] == 'x'" }] });
    const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("rt") }));
    expect(f.code).toBe(500);
    expect(String(f.status["message"])).toContain('failed to evaluate match condition "missing-key"');
    expect(w.reviews).toHaveLength(0);
  });

  it.skipIf(targetsRealCluster())("a matchCondition calling a function the fake lacks is reported, not ignored [fake-only limitation]", async () => {
    const w = await webhook(() => ({ allowed: true }));
    await register("cel", w.url, { matchConditions: [{ name: "quantity", expression: "quantity('1Gi').isGreaterThan(quantity('1Mi'))" }] });
    const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("cel") }));
    expect(f.code).toBe(500);
    expect(String(f.status["message"])).toContain("uses CEL the fake does not evaluate");
  });
});

it("with reinvocationPolicy IfNeeded a webhook is called again, with a new uid, after a later webhook changed the pod", async () => {
  const lameduck = await webhook((r) => {
    const containers = (r.request.object["spec"] as { containers: { name: string; lifecycle?: unknown }[] }).containers;
    const patch = containers.flatMap((c, i) => (c.lifecycle === undefined ? [{ op: "add", path: `/spec/containers/${String(i)}/lifecycle`, value: { preStop: { sleep: { seconds: 5 } } } }] : []));
    return { allowed: true, patch };
  });
  const sidecar = await webhook((r) => {
    const containers = (r.request.object["spec"] as { containers: { name: string }[] }).containers;
    return { allowed: true, patch: containers.some((c) => c.name === "proxy") ? [] : [{ op: "add", path: "/spec/containers/-", value: { name: "proxy", image: "registry.example.invalid/proxy:1.0" } }] };
  });
  await register("a-lameduck", lameduck.url, { reinvocationPolicy: "IfNeeded" });
  await register("b-sidecar", sidecar.url);
  const created = await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("reinvoked") });
  expect(created.spec?.containers.map((c) => [c.name, c.lifecycle?.preStop?.sleep?.seconds])).toEqual([["app", 5], ["proxy", 5]]);
  expect(lameduck.reviews).toHaveLength(2);
  expect(lameduck.reviews[0]?.request.uid).not.toBe(lameduck.reviews[1]?.request.uid);
  const second = lameduck.reviews[1]?.request.object["spec"] as { containers: { name: string; terminationMessagePath?: string }[] };
  // The sidecar arrives defaulted, as recorded in admission-reinvocation-3-lameduck-reinvoked.json.
  expect(second.containers.find((c) => c.name === "proxy")?.terminationMessagePath).toBe("/dev/termination-log");
});

it("a dry-run CREATE tells the webhook and persists nothing", async () => {
  const w = await webhook(() => ({ allowed: true, patch: annotate("dry") }));
  await register("dry", w.url);
  const dry = await suite.core.createNamespacedPod({ namespace: suite.ns, body: plainPod("dry"), dryRun: "All" });
  expect(dry.metadata?.annotations).toEqual({ dry: "yes" });
  expect(w.reviews[0]?.request["dryRun"]).toBe(true);
  expect((await failureOf(suite.core.readNamespacedPod({ namespace: suite.ns, name: "dry" }))).code).toBe(404);
});

it("a v1 registration is validated: side effects, name, client config, timeout", async () => {
  const f = await failureOf(register("effects", "http://127.0.0.1:1/x", { sideEffects: "Some", timeoutSeconds: 31 }));
  expect(f.code).toBe(422);
  const fields = ((f.status["details"] as { causes?: { field: string }[] } | undefined)?.causes ?? []).map((c) => c.field).sort();
  expect(fields).toEqual(["webhooks[0].clientConfig.url", "webhooks[0].sideEffects", "webhooks[0].timeoutSeconds"]);
  expect(String(f.status["message"])).toContain('webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"');
  // [source: apiserver/pkg/util/webhook ValidateWebhookURL] the value shown is the scheme, not the URL.
  expect(String(f.status["message"])).toContain(`webhooks[0].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]`);
});

it.skipIf(targetsRealCluster())("a webhook registered by service reference is reached through the fake's resolveService hook [fake-only: a real cluster resolves services itself]", async () => {
  const w = await webhook(() => ({ allowed: true, patch: annotate("via-service") }));
  const fake = await startCluster({ resolveService: (ref) => `${w.url}?suite.ns=${ref.namespace}&name=${ref.name}&port=${String(ref.port)}` });
  try {
    const fcore = fake.kc.makeApiClient(CoreV1Api);
    await fake.kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({ body: { metadata: { name: "by-service" }, webhooks: [{
      name: "svc.lameduck.test", admissionReviewVersions: ["v1"], sideEffects: "None", failurePolicy: "Fail",
      clientConfig: { service: { namespace: "lameduck-system", name: "lameduck", port: 8443, path: "/mutate" }, caBundle: suite.pki.caBundle },
      rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }] }] } });
    const created = await fcore.createNamespacedPod({ namespace: "default", body: plainPod("via-service") });
    expect(created.metadata?.annotations).toEqual({ "via-service": "yes" });
  } finally {
    await fake.close();
  }
});

it.skipIf(targetsRealCluster())("a webhook's warnings reach the client as Warning headers [raw HTTP without credentials]", async () => {
  const w = await webhook(() => ({ allowed: true, warnings: ["lameduck: bad lameduck.dev/max, using 30s"] }));
  await register("warn", w.url);
  const url = `${suite.cluster.kc.getCurrentCluster()?.server ?? ""}/api/v1/namespaces/${suite.ns}/pods`;
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(plainPod("warned")) });
  expect(res.status).toBe(201);
  expect(res.headers.get("warning")).toBe('299 - "lameduck: bad lameduck.dev/max, using 30s"');
});
