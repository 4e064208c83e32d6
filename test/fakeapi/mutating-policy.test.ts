// MutatingAdmissionPolicies through the fake API server: the generated lameduck policy injects a
// pod, policies run before webhooks, an IfNeeded policy is reinvoked after a later webhook changed
// the pod, and failurePolicy decides what an expression's error does. Every binding is scoped to
// the test's namespace.
import { afterEach, expect, it } from "vitest";
import { KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { injectionPolicy } from "../../injector/policy/generate.ts";
import { failureOf } from "../support/apierrors.ts";
import { defaultStaticFacts, testPolicy } from "../support/admission.ts";
import { admissionSuite } from "../support/webhookharness.ts";

const suite = admissionSuite("fakeapi-map");
const created: KubernetesObject[] = [];

afterEach(async () => {
  const objects = KubernetesObjectApi.makeApiClient(suite.cluster.kc);
  for (const o of created.splice(0).reverse()) await objects.delete(o).catch(() => undefined);
});

async function install(policy: Record<string, unknown>, binding: Record<string, unknown>): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(suite.cluster.kc);
  const scoped = { ...binding, spec: { ...(binding["spec"] as object), matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": suite.ns } } } } };
  for (const o of [policy, scoped] as KubernetesObject[]) created.push(await objects.create(o));
}

function simplePolicy(name: string, expression: string, extra: Record<string, unknown> = {}): [Record<string, unknown>, Record<string, unknown>] {
  return [
    { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingAdmissionPolicy", metadata: { name },
      spec: { matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }] },
        mutations: [{ patchType: "JSONPatch", jsonPatch: { expression } }], ...extra } },
    { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingAdmissionPolicyBinding", metadata: { name }, spec: { policyName: name } },
  ];
}

const pod = (name: string) => ({ metadata: { name }, spec: { containers: [{ name: "web", image: "registry.example/web:1" }] } });

it("the generated lameduck policy injects a pod as the webhook would", async () => {
  const { policy, binding } = injectionPolicy(testPolicy(), { oracleAddress: defaultStaticFacts.oracleAddress, architectures: ["amd64"], hookHash: "3f2a9c1e" });
  await install(policy, binding);
  const p = await suite.core.createNamespacedPod({ namespace: suite.ns, body: pod("injected") });
  expect(p.metadata?.annotations?.["lameduck.dev/injected"]).toBe("v1 wait");
  expect(p.metadata?.labels?.["lameduck.dev/hook"]).toBe("3f2a9c1e");
  expect(p.spec?.terminationGracePeriodSeconds).toBe(60);
  expect(p.spec?.containers[0]?.lifecycle?.preStop?.exec?.command).toEqual(["/.lameduck/hook", "wait", "--oracle=10.96.40.7:8080", "--max=30s", "--settle=2s", "--quiet=2s", "--fallback=10s"]);
  expect(p.spec?.containers[0]?.volumeMounts?.find((m) => m.name === "lameduck")).toEqual({ name: "lameduck", mountPath: "/.lameduck", readOnly: true });
  expect(p.spec?.volumes?.find((v) => v.name === "lameduck")?.projected?.sources?.[0]?.configMap).toEqual({ name: "lameduck-hook-3f2a9c1e", optional: true, items: [{ key: "hook-amd64", path: "hook", mode: 365 }] });
});

it("a policy runs before the webhooks: they see its change", async () => {
  await install(...simplePolicy("first", "[JSONPatch{op: 'add', path: '/metadata/annotations', value: {'policy': 'ran'}}]"));
  const w = await suite.webhook(() => ({ allowed: true }));
  await suite.register("second", w.url);
  await suite.core.createNamespacedPod({ namespace: suite.ns, body: pod("ordered") });
  expect((w.reviews[0]?.request.object["metadata"] as { annotations?: Record<string, string> }).annotations).toEqual({ policy: "ran" });
});

it("with reinvocationPolicy IfNeeded the lameduck policy injects a sidecar a later webhook added", async () => {
  const { policy, binding } = injectionPolicy(testPolicy(), { oracleAddress: defaultStaticFacts.oracleAddress, architectures: ["amd64"], hookHash: "3f2a9c1e" });
  await install(policy, binding);
  const sidecar = await suite.webhook((r) => {
    const containers = (r.request.object["spec"] as { containers: { name: string }[] }).containers;
    return { allowed: true, patch: containers.some((c) => c.name === "proxy") ? [] : [{ op: "add", path: "/spec/containers/-", value: { name: "proxy", image: "registry.example.invalid/proxy:1.0" } }] };
  });
  await suite.register("sidecar", sidecar.url);
  const p = await suite.core.createNamespacedPod({ namespace: suite.ns, body: pod("reinvoked") });
  expect(p.spec?.containers.map((c) => [c.name, c.lifecycle?.preStop?.exec?.command?.[0], c.volumeMounts?.some((m) => m.name === "lameduck")])).toEqual([
    ["web", "/.lameduck/hook", true],
    ["proxy", "/.lameduck/hook", true],
  ]);
  expect(p.spec?.volumes?.filter((v) => v.name.startsWith("lameduck"))).toHaveLength(1);
  expect(p.spec?.terminationGracePeriodSeconds).toBe(60);
});

it("an expression that fails leaves the pod alone under Ignore and fails the CREATE under Fail", async () => {
  const failing = "[JSONPatch{op: 'add', path: '/metadata/annotations/x', value: object.metadata.annotations['absent']}]";
  await install(...simplePolicy("ignored", failing, { failurePolicy: "Ignore" }));
  const p = await suite.core.createNamespacedPod({ namespace: suite.ns, body: pod("ignored") });
  expect(p.metadata?.annotations).toBeUndefined();
  await install(...simplePolicy("failing", failing, { failurePolicy: "Fail" }));
  const f = await failureOf(suite.core.createNamespacedPod({ namespace: suite.ns, body: pod("failing") }));
  expect(f.code).toBe(500);
  expect(String(f.status["message"])).toContain("policy 'failing'");
});
