// Policy mode against the webhook: for every golden case of test/fixtures/inject and every recorded
// pod CREATE of test/fixtures/real, the MutatingAdmissionPolicy the controller generates, evaluated
// by the fake API server's policy evaluator, yields the same pod as the webhook's patch, and a
// second pass changes nothing. The differences are listed here, each with its reason (they are in
// docs/operations.md too), and checked to be exactly what the reason says.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { injectionPolicy } from "../../injector/policy/generate.ts";
import { maxPolicyContainers } from "../../injector/policy/expressions.ts";
import type { StaticFacts } from "../../injector/offline/static-facts.ts";
import type { Policy } from "../../injector/mutation/policy.ts";
import { applyPolicyPatch, policyPatch } from "../fakeapi/mutating-policy.ts";
import { Res } from "../fakeapi/resources.ts";
import { applyOps, defaultStaticFacts, makeTestReviewer, patchOf, podReview, testFacts, testPolicy } from "../support/admission.ts";
import { caseFacts, caseNames, casesDir, isRecord, readCase } from "../support/golden-cases.ts";

type Pod = Record<string, unknown>;

/** The namespace object the API server hands the policy: its labels include kubernetes.io/metadata.name. */
function namespaceObject(name: string, facts: StaticFacts): Pod {
  const ns = facts.namespaces?.[name] ?? {};
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { ...ns.labels, "kubernetes.io/metadata.name": name }, ...(ns.annotations === undefined ? {} : { annotations: ns.annotations }) } };
}

function byPolicy(pod: Pod, namespace: string, facts: StaticFacts, policy: Policy): { pod: Pod; second: unknown[] } {
  const { policy: map, binding } = injectionPolicy(policy, { oracleAddress: facts.oracleAddress, architectures: facts.architectures, hookHash: facts.currentHookHash ?? facts.hookHash });
  const run = (object: Pod): Pod => applyPolicyPatch(object, policyPatch(map, binding, { resource: Res.pods, object, namespaceObject: namespaceObject(namespace, facts), request: { operation: "CREATE", namespace } }));
  const once = run(pod);
  const second = policyPatch(map, binding, { resource: Res.pods, object: once, namespaceObject: namespaceObject(namespace, facts), request: {} });
  return { pod: once, second };
}

function byWebhook(pod: Pod, namespace: string, facts: StaticFacts, policy: Policy): Pod {
  const { review } = makeTestReviewer(testFacts(facts), policy);
  const answer = review(podReview(pod, namespace));
  if (answer.status !== 200) throw new Error(`webhook answered ${String(answer.status)}`);
  return applyOps(pod, patchOf(answer));
}

/**
 * Where the policy cannot decide as the webhook does. Each entry checks the policy's pod for the
 * documented behaviour instead of equality.
 */
const differences: Record<string, (policyPod: Pod, webhookPod: Pod) => void> = {
  // A policy cannot look up whether the namespace's hook ConfigMap exists yet: it mounts the
  // ConfigMap optional (as the webhook does on clusters without the native sleep), so a pod created
  // in the moment before the distributor's copy lands gets no hook and stops after the kubelet's
  // failed preStop instead of sleeping.
  "configmap-missing-native": (policyPod, webhookPod) => {
    expect(JSON.stringify(webhookPod)).toContain('"sleep":{"seconds":15}');
    const volumes = (policyPod["spec"] as { volumes?: { projected?: { sources?: { configMap?: { optional?: boolean } }[] } }[] }).volumes;
    expect(volumes?.[0]?.projected?.sources?.[0]?.configMap?.optional).toBe(true);
    expect(JSON.stringify(policyPod)).toContain('"command":["/.lameduck/hook","wait"');
  },
};

const cases = caseNames().map((name) => {
  const { setup, pod } = readCase(join(casesDir, `${name}.pod.yaml`));
  const facts: StaticFacts = { ...defaultStaticFacts, ...caseFacts(setup) };
  return { name, pod, namespace: setup.namespace ?? "shop", facts, policy: testPolicy(setup.flags ?? []) };
});
// Policy mode needs Kubernetes 1.36, which always serves the native sleep action: the cases that
// describe older clusters do not apply.
const applicable = cases.filter((c) => c.facts.nativeSleep);

describe("policy mode yields the webhook's pod", () => {
  it("covers every golden case of a cluster that serves the native sleep", () => {
    expect(applicable.length).toBeGreaterThan(40);
    expect(Object.keys(differences).every((n) => applicable.some((c) => c.name === n))).toBe(true);
  });

  it.each(applicable.map((c) => [c.name, c] as const))("%s", (name, c) => {
    const webhookPod = byWebhook(c.pod, c.namespace, c.facts, c.policy);
    const { pod, second } = byPolicy(c.pod, c.namespace, c.facts, c.policy);
    const difference = differences[name];
    if (difference === undefined) expect(pod).toEqual(webhookPod);
    else {
      expect(pod).not.toEqual(webhookPod);
      difference(pod, webhookPod);
    }
    expect(second).toEqual([]);
  });
});

describe("a pod with more containers than the policy injects", () => {
  it("is created unchanged by the policy, where the webhook injects up to 1,000", () => {
    const many = (n: number): Pod => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "big", namespace: "shop" }, spec: { containers: Array.from({ length: n }, (_, i) => ({ name: `c${String(i)}`, image: "registry.example/app:1" })) } });
    const policy = testPolicy();
    expect(byPolicy(many(maxPolicyContainers), "shop", defaultStaticFacts, policy).pod).toEqual(byWebhook(many(maxPolicyContainers), "shop", defaultStaticFacts, policy));
    const over = many(maxPolicyContainers + 1);
    expect(byPolicy(over, "shop", defaultStaticFacts, policy).pod).toEqual(over);
    expect(byWebhook(over, "shop", defaultStaticFacts, policy)).not.toEqual(over);
  });
});

const realDir = join(import.meta.dirname, "..", "fixtures", "real");
const recorded = readdirSync(realDir)
  .filter((f) => f.startsWith("admission-") && f.endsWith(".json") && f !== "admission-index.json")
  .sort()
  .map((file) => ({ file, body: JSON.parse(readFileSync(join(realDir, file), "utf8")) as unknown }))
  .flatMap(({ file, body }) => {
    const request = isRecord(body) ? body["request"] : undefined;
    if (!isRecord(request) || request["operation"] !== "CREATE" || request["subResource"] !== undefined) return [];
    const kind = request["kind"];
    const object = request["object"];
    const namespace = request["namespace"];
    if (!isRecord(kind) || kind["kind"] !== "Pod" || !isRecord(object) || typeof namespace !== "string") return [];
    return [{ file, object, namespace }];
  });

describe("policy mode on the pods a real kube-apiserver sent the webhook", () => {
  it("has the recorded pod creates", () => {
    expect(recorded.length).toBeGreaterThanOrEqual(15);
  });
  it.each(recorded.map((r) => [r.file, r] as const))("%s", (_, r) => {
    const policy = testPolicy();
    const { pod, second } = byPolicy(r.object, r.namespace, defaultStaticFacts, policy);
    expect(pod).toEqual(byWebhook(r.object, r.namespace, defaultStaticFacts, policy));
    expect(second).toEqual([]);
  });
});
