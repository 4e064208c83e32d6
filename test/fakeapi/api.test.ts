import { beforeAll, describe, expect, it } from "vitest";
import { KubernetesObjectApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { CoreV1Api, KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { createNamespace, deleteNamespace, runPod } from "../support/cluster.ts";
import { clusterSuite, simplePod } from "../support/clustersuite.ts";
import { failureOf } from "../support/apierrors.ts";

const suite = clusterSuite("fakeapi-api", { name: "api-node", ip: "192.0.2.10" });
const node = suite.node;
const pod = simplePod;
let kc: KubeConfig;
let core: CoreV1Api;
let ns: string;

beforeAll(() => {
  ({ kc, core, ns } = suite);
});

describe("objects", () => {
  it("a created pod gets a uid, a creationTimestamp, generation 1 and a resourceVersion above every earlier one", async () => {
    const a = await core.createNamespacedPod({ namespace: ns, body: pod("rv-a") });
    const b = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "rv-b" } } });
    expect(a.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(a.metadata?.generation).toBe(1);
    expect(Number(b.metadata?.resourceVersion)).toBeGreaterThan(Number(a.metadata?.resourceVersion));
    expect(a.spec?.terminationGracePeriodSeconds).toBe(30);
    expect(a.status?.phase).toBe("Pending");
  });

  it("generateName yields the prefix and a five-character suffix", async () => {
    const p = await core.createNamespacedPod({ namespace: ns, body: { ...pod(""), metadata: { generateName: "web-7d9f-" } } });
    expect(p.metadata?.name).toMatch(/^web-7d9f-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it("creating an object that exists answers 409 AlreadyExists with the real message", async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod("dup") });
    const f = await failureOf(core.createNamespacedPod({ namespace: ns, body: pod("dup") }));
    expect(f.code).toBe(409);
    expect(f.status).toMatchObject({ kind: "Status", status: "Failure", reason: "AlreadyExists", message: 'pods "dup" already exists', details: { name: "dup", kind: "pods" }, code: 409 });
  });

  it("reading a missing object answers 404 with the real Status body", async () => {
    const f = await failureOf(core.readNamespacedPod({ namespace: ns, name: "nope" }));
    expect(f).toEqual({ code: 404, status: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'pods "nope" not found', reason: "NotFound", details: { name: "nope", kind: "pods" }, code: 404 } });
  });

  it("creating in a namespace that does not exist answers 404 for the namespace", async () => {
    const f = await failureOf(core.createNamespacedConfigMap({ namespace: "no-such-ns-x", body: { metadata: { name: "c" } } }));
    expect(f.code).toBe(404);
    expect(f.status["message"]).toBe('namespaces "no-such-ns-x" not found');
  });

  it("an update with a stale resourceVersion answers 409 Conflict, a current one succeeds", async () => {
    const cm = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "conflict" }, data: { a: "1" } } });
    const fresh = await core.replaceNamespacedConfigMap({ namespace: ns, name: "conflict", body: { ...cm, data: { a: "2" } } });
    expect(fresh.data).toEqual({ a: "2" });
    const f = await failureOf(core.replaceNamespacedConfigMap({ namespace: ns, name: "conflict", body: { ...cm, data: { a: "3" } } }));
    expect(f.code).toBe(409);
    expect(f.status["reason"]).toBe("Conflict");
    expect(f.status["message"]).toBe('Operation cannot be fulfilled on configmaps "conflict": the object has been modified; please apply your changes to the latest version and try again');
  });

  it("a delete whose uid precondition does not match answers 409 with the storage error [source: storage.Preconditions]", async () => {
    const cm = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "guarded" } } });
    const f = await failureOf(core.deleteNamespacedConfigMap({ namespace: ns, name: "guarded", body: { preconditions: { uid: "not-the-uid" } } }));
    expect(f.code).toBe(409);
    expect(f.status["message"]).toBe(`Operation cannot be fulfilled on configmaps "guarded": StorageError: invalid object, Code: 4, Key: /registry/configmaps/${ns}/guarded, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: not-the-uid, UID in object meta: ${cm.metadata?.uid ?? ""}`);
    await core.deleteNamespacedConfigMap({ namespace: ns, name: "guarded", body: { preconditions: { uid: cm.metadata?.uid ?? "" } } });
  });

  it("an update that changes nothing keeps the resourceVersion", async () => {
    const cm = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "noop" }, data: { a: "1" } } });
    const same = await core.replaceNamespacedConfigMap({ namespace: ns, name: "noop", body: cm });
    expect(same.metadata?.resourceVersion).toBe(cm.metadata?.resourceVersion);
  });

  it("merge, JSON and strategic merge patches change what they say", async () => {
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "patched", labels: { a: "1" } }, data: { x: "1", y: "2" } } });
    await core.patchNamespacedConfigMap({ namespace: ns, name: "patched", body: { data: { x: null, z: "3" } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    await core.patchNamespacedConfigMap({ namespace: ns, name: "patched", body: [{ op: "add", path: "/metadata/labels/b", value: "2" }] }, setHeaderOptions("Content-Type", PatchStrategy.JsonPatch));
    const p = await core.patchNamespacedConfigMap({ namespace: ns, name: "patched", body: { metadata: { labels: { c: "3" } } } }, setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch));
    expect(p.data).toEqual({ y: "2", z: "3" });
    expect(p.metadata?.labels).toEqual({ a: "1", b: "2", c: "3" });
  });

  it("a strategic merge patch merges containers by name", async () => {
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: "smp" }, spec: { containers: [{ name: "a", image: "a:1" }, { name: "b", image: "b:1" }] } } });
    const p = await core.patchNamespacedPod({ namespace: ns, name: "smp", body: { spec: { containers: [{ name: "b", image: "b:2" }] } } }, setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch));
    expect(p.spec?.containers.map((c) => `${c.name}=${c.image ?? ""}`)).toEqual(["a=a:1", "b=b:2"]);
  });

  it("a status update changes only the status, a main update keeps the status", async () => {
    const created = await core.createNamespacedPod({ namespace: ns, body: pod("status", { v: "1" }) });
    const viaStatus = await core.replaceNamespacedPodStatus({ namespace: ns, name: "status", body: { ...created, spec: { ...created.spec, containers: created.spec?.containers ?? [], activeDeadlineSeconds: 5 }, status: { phase: "Running" } } });
    expect(viaStatus.status?.phase).toBe("Running");
    expect(viaStatus.spec?.activeDeadlineSeconds).toBeUndefined();
    const viaMain = await core.replaceNamespacedPod({ namespace: ns, name: "status", body: { ...viaStatus, metadata: { ...viaStatus.metadata, labels: { v: "2" } }, status: { phase: "Failed" } } });
    expect(viaMain.status?.phase).toBe("Running");
    expect(viaMain.metadata?.labels).toEqual({ v: "2" });
  });
});

describe("pod lifecycle", () => {
  it("deleting a bound pod keeps it with deletionTimestamp until the kubelet deletes it with grace 0", async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod("graceful") });
    await runPod(kc, ns, "graceful", { node, ip: "10.1.0.9" });
    const before = Date.now();
    const deleted = await core.deleteNamespacedPod({ namespace: ns, name: "graceful", gracePeriodSeconds: 20 });
    expect(deleted.metadata?.deletionGracePeriodSeconds).toBe(20);
    const at = deleted.metadata?.deletionTimestamp?.getTime() ?? 0;
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 19_000);
    const still = await core.readNamespacedPod({ namespace: ns, name: "graceful" });
    expect(still.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    expect(still.metadata?.generation).toBe(2);
    const f = await failureOf(core.createNamespacedPod({ namespace: ns, body: pod("graceful") }));
    expect(f.status["message"]).toBe('object is being deleted: pods "graceful" already exists');
    await core.deleteNamespacedPod({ namespace: ns, name: "graceful", gracePeriodSeconds: 0 });
    expect((await failureOf(core.readNamespacedPod({ namespace: ns, name: "graceful" }))).code).toBe(404);
  });

  it("a graceful delete without gracePeriodSeconds uses the pod's terminationGracePeriodSeconds", async () => {
    await core.createNamespacedPod({ namespace: ns, body: { ...pod("default-grace"), spec: { ...pod("").spec, terminationGracePeriodSeconds: 45 } } });
    await runPod(kc, ns, "default-grace", { node, ip: "10.1.0.10" });
    const deleted = await core.deleteNamespacedPod({ namespace: ns, name: "default-grace" });
    expect(deleted.metadata?.deletionGracePeriodSeconds).toBe(45);
  });

  it("deleting a pod never bound to a node removes it at once", async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod("unbound") });
    await core.deleteNamespacedPod({ namespace: ns, name: "unbound", gracePeriodSeconds: 30 });
    expect((await failureOf(core.readNamespacedPod({ namespace: ns, name: "unbound" }))).code).toBe(404);
  });

  it("binding sets spec.nodeName and PodScheduled; binding again answers 409", async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod("bind") });
    await core.createNamespacedPodBinding({ namespace: ns, name: "bind", body: { metadata: { name: "bind" }, target: { kind: "Node", name: node } } });
    const bound = await core.readNamespacedPod({ namespace: ns, name: "bind" });
    expect(bound.spec?.nodeName).toBe(node);
    expect(bound.status?.conditions?.find((c) => c.type === "PodScheduled")?.status).toBe("True");
    const f = await failureOf(core.createNamespacedPodBinding({ namespace: ns, name: "bind", body: { metadata: { name: "bind" }, target: { kind: "Node", name: node } } }));
    expect(f.code).toBe(409);
    expect(f.status["message"]).toBe(`Operation cannot be fulfilled on pods/binding "bind": pod bind is already assigned to node "${node}"`);
  });
});

describe("namespaces and discovery", () => {
  it("deleting a namespace marks it Terminating, deletes what is in it, then removes it", async () => {
    const doomed = await createNamespace(kc, "fakeapi-doomed");
    await core.createNamespacedConfigMap({ namespace: doomed, body: { metadata: { name: "c" } } });
    // A running pod keeps the namespace terminating until the kubelet has finished it.
    await core.createNamespacedPod({ namespace: doomed, body: pod("p") });
    await runPod(kc, doomed, "p", { node, ip: "10.1.0.20" });
    await core.deleteNamespace({ name: doomed });
    expect((await core.readNamespace({ name: doomed })).status?.phase).toBe("Terminating");
    const f = await failureOf(core.createNamespacedConfigMap({ namespace: doomed, body: { metadata: { name: "late" } } }));
    expect(f.code).toBe(403);
    expect(f.status["message"]).toBe(`configmaps "late" is forbidden: unable to create new content in namespace ${doomed} because it is being terminated`);
    await deleteNamespace(kc, doomed);
    expect((await failureOf(core.readNamespace({ name: doomed }))).code).toBe(404);
  });

  it("a new namespace gets the kube-root-ca.crt ConfigMap and the default ServiceAccount", async () => {
    const deadline = Date.now() + 10_000;
    let found = false;
    while (!found && Date.now() < deadline) {
      const cms = await core.listNamespacedConfigMap({ namespace: ns });
      const sas = await core.listNamespacedServiceAccount({ namespace: ns });
      found = cms.items.some((c) => c.metadata?.name === "kube-root-ca.crt") && sas.items.some((s) => s.metadata?.name === "default");
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    expect(found).toBe(true);
  });

  it("KubernetesObjectApi discovers, creates and reads every kind lameduck uses", async () => {
    const objects = kc.makeApiClient(KubernetesObjectApi);
    const manual: KubernetesObject & Record<string, unknown> = { apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { name: "manual", namespace: ns }, addressType: "IPv4", endpoints: [], ports: [] };
    const slice = await objects.create(manual);
    expect(slice.metadata?.uid).toBeDefined();
    const config: KubernetesObject & Record<string, unknown> = { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { generateName: "fakeapi-test-" }, webhooks: [] };
    const hook = await objects.create(config);
    const read = await objects.read({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: hook.metadata?.name ?? "" } });
    expect(read.metadata?.uid).toBe(hook.metadata?.uid);
    await objects.delete(read);
  });
});

describe("pod updates", () => {
  it("may change a container image but not the rest of the spec", async () => {
    const created = await core.createNamespacedPod({ namespace: ns, body: pod("immutable") });
    const spec = created.spec ?? { containers: [] };
    const renamed = await core.replaceNamespacedPod({ namespace: ns, name: "immutable", body: { ...created, spec: { ...spec, containers: spec.containers.map((c) => ({ ...c, image: "registry.example.invalid/app:2.0" })) } } });
    expect(renamed.spec?.containers[0]?.image).toBe("registry.example.invalid/app:2.0");
    const f = await failureOf(core.replaceNamespacedPod({ namespace: ns, name: "immutable", body: { ...renamed, spec: { ...spec, hostname: "changed" } } }));
    expect(f.code).toBe(422);
    expect(String(f.status["message"])).toMatch(/^Pod "immutable" is invalid: spec: Forbidden: pod updates may not change fields other than `spec\.containers\[\*\]\.image`/);
  });
});

describe("server-side apply and strategic merge on webhook configurations", () => {
  it("apply creates and then merges an object; it needs a fieldManager", async () => {
    const objects = kc.makeApiClient(KubernetesObjectApi);
    const spec: KubernetesObject & Record<string, unknown> = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "applied", namespace: ns }, data: { a: "1" } };
    const created = await objects.patch(spec, undefined, undefined, "lameduck", true, PatchStrategy.ServerSideApply);
    expect((created as unknown as { data: unknown }).data).toEqual({ a: "1" });
    // (Only fields the manager keeps applying: real apply would drop `a` if it were left out.)
    const merged = await objects.patch({ ...spec, data: { a: "1", b: "2" } }, undefined, undefined, "lameduck", true, PatchStrategy.ServerSideApply);
    expect((merged as unknown as { data: unknown }).data).toEqual({ a: "1", b: "2" });
    const f = await failureOf(objects.patch(spec, undefined, undefined, undefined, true, PatchStrategy.ServerSideApply));
    expect(f.code).toBe(422);
  });

  it("a strategic merge patch rotates one webhook's caBundle by name", async () => {
    const objects = kc.makeApiClient(KubernetesObjectApi);
    const hook = (name: string, ca: string) => ({ name, admissionReviewVersions: ["v1"], sideEffects: "None", clientConfig: { url: "https://127.0.0.1:1/x", caBundle: ca } });
    const config: KubernetesObject & Record<string, unknown> = { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: `smp-${ns}` }, webhooks: [hook("a.lameduck.test", "AAAA"), hook("b.lameduck.test", "BBBB")] };
    await objects.create(config);
    const patched = await objects.patch({ ...config, webhooks: [{ name: "b.lameduck.test", clientConfig: { caBundle: "CCCC" } }] }, undefined, undefined, undefined, undefined, PatchStrategy.StrategicMergePatch);
    const webhooks = (patched as unknown as { webhooks: { name: string; clientConfig: { caBundle: string; url: string } }[] }).webhooks;
    expect(webhooks.map((w) => [w.name, w.clientConfig.caBundle, w.clientConfig.url])).toEqual([["a.lameduck.test", "AAAA", "https://127.0.0.1:1/x"], ["b.lameduck.test", "CCCC", "https://127.0.0.1:1/x"]]);
    await objects.delete(config);
  });
});

describe("eviction and collections", () => {
  it("an eviction deletes the pod gracefully, as a DELETE with its own grace period", async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod("evicted") });
    await runPod(kc, ns, "evicted", { node, ip: "10.1.0.30" });
    await core.createNamespacedPodEviction({ namespace: ns, name: "evicted", body: { metadata: { name: "evicted", namespace: ns } } });
    const p = await core.readNamespacedPod({ namespace: ns, name: "evicted" });
    expect(p.metadata?.deletionGracePeriodSeconds).toBe(30);
  });

  it("deletecollection deletes what the label selector matches and nothing else", async () => {
    for (const [name, keep] of [["col-a", "no"], ["col-b", "no"], ["col-c", "yes"]] as const) {
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels: { col: "1", keep } } } });
    }
    await core.deleteCollectionNamespacedConfigMap({ namespace: ns, labelSelector: "col=1,keep=no" });
    const left = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: "col=1" });
    expect(left.items.map((c) => c.metadata?.name)).toEqual(["col-c"]);
  });
});
