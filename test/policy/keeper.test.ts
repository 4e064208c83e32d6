// The controller's side of policy mode: which injector it chooses and why, and the keeper that
// brings the installed policy up to date, against the fake API server with the policy overlay's
// placeholder installed, then a pod created there.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { Injector, parseRunConfig } from "../../injector/config.ts";
import { silentLogger } from "../../injector/log.ts";
import { injectionPolicy } from "../../injector/policy/generate.ts";
import { holds, kubePolicyStore, makePolicyKeeper, specDigest, specDigestAnnotation } from "../../injector/policy/keeper.ts";
import { chooseInjector, servesMutatingPolicies } from "../../injector/policy/mode.ts";
import { startInjectorLoop } from "../../injector/policy/start.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { judgeInjector } from "../../injector/policy/check.ts";
import { defaultInstallNames } from "../../injector/ops/snapshot.ts";
import { uninstall } from "../../injector/ops/uninstall.ts";
import { startCluster, targetsRealCluster, type Cluster } from "../support/cluster.ts";
import { defaultStaticFacts, testFacts, testPolicy } from "../support/admission.ts";

describe("the injector", () => {
  it("is the webhook when asked for, or when the API server does not serve mutating admission policies", () => {
    expect(chooseInjector(Injector.webhook, true, true)).toEqual({ injector: "webhook", why: "--injector=webhook" });
    expect(chooseInjector(undefined, false, false).injector).toBe("webhook");
    expect(chooseInjector(undefined, false, false).why).toContain("does not serve admissionregistration.k8s.io/v1 mutatingadmissionpolicies");
    const forced = chooseInjector(Injector.policy, false, true);
    expect(forced.injector).toBe("webhook");
    expect(forced.why).toMatch(/^--injector=policy, but the API server does not serve/);
  });

  it("is the policy by default only where it is served and installed", () => {
    const unInstalled = chooseInjector(undefined, true, false);
    expect(unInstalled.injector).toBe("webhook");
    expect(unInstalled.why).toContain("is not installed (manifests/overlays/policy)");
    const installed = chooseInjector(undefined, true, true);
    expect(installed.injector).toBe("policy");
    expect(installed.why).toContain("is installed");
    const forced = chooseInjector(Injector.policy, true, false);
    expect(forced.injector).toBe("policy");
    expect(forced.why).toContain("only the webhook injects");
  });
});

describe("the policy keeper", () => {
  it("rewrites the policy when the oracle address or the hook version changes, and only then", async () => {
    const written: Record<string, unknown>[] = [];
    let digest: string | undefined = "placeholder";
    let spec: unknown = {};
    const store = {
      read: () => Promise.resolve({ resourceVersion: String(written.length), digest, spec }),
      replace: (policy: Record<string, unknown>) => {
        written.push(policy);
        digest = (policy["metadata"] as { annotations: Record<string, string> }).annotations[specDigestAnnotation];
        spec = policy["spec"];
        return Promise.resolve();
      },
    };
    let facts = testFacts();
    const keeper = makePolicyKeeper({ store, config: testPolicy(), facts: { ...facts, oracleAddress: () => facts.oracleAddress(), currentHookHash: () => facts.currentHookHash() }, logger: silentLogger });
    expect(await keeper.reconcile()).toBe("updated");
    expect(await keeper.reconcile()).toBe("unchanged");
    facts = testFacts({ oracleAddress: "10.96.0.9:8080" });
    expect(await keeper.reconcile()).toBe("updated");
    expect(JSON.stringify(written.at(-1))).toContain("--oracle=10.96.0.9:8080");
    facts = testFacts({ oracleAddress: "10.96.0.9:8080", hookHash: "0123abcd" });
    expect(await keeper.reconcile()).toBe("updated");
    expect(JSON.stringify(written.at(-1))).toContain("lameduck-hook-0123abcd");
    expect(await keeper.reconcile()).toBe("unchanged");
    expect(written).toHaveLength(3);
  });
});

describe("a written spec holding in the stored one", () => {
  it("allows the server's defaults and nothing else: a changed, missing or extra list element does not hold", () => {
    const want = { failurePolicy: "Ignore", mutations: [{ patchType: "JSONPatch", jsonPatch: { expression: "[x]" } }] };
    expect(holds({ ...want, matchConstraints: { matchPolicy: "Equivalent" } }, want)).toBe(true);
    expect(holds({ ...want, mutations: [{ patchType: "JSONPatch", jsonPatch: { expression: "[]" } }] }, want)).toBe(false);
    expect(holds({ failurePolicy: "Ignore" }, want)).toBe(false);
    expect(holds({ ...want, mutations: [...want.mutations, ...want.mutations] }, want)).toBe(false);
    expect(holds({ ...want, failurePolicy: "Fail" }, want)).toBe(false);
  });
});

describe("the controller's injector loop", () => {
  it("decides after the caches synced, keeps the policy current in policy mode, and notices the policy installed later", async () => {
    let installed = false;
    let replaced = 0;
    const store = {
      read: () => Promise.resolve(installed ? { resourceVersion: "1", digest: undefined, spec: {} } : undefined),
      replace: () => {
        replaced++;
        return Promise.resolve();
      },
    };
    let tick: () => void = () => undefined;
    const delay = (): Promise<void> => new Promise((resolve) => { tick = resolve; });
    let synced: () => void = () => undefined;
    const loop = startInjectorLoop({
      kc: new KubeConfig(), config: parseRunConfig([], {}, "/hook"), facts: testFacts(), logger: silentLogger,
      synced: () => new Promise<void>((resolve) => { synced = resolve; }), delay, store, served: () => Promise.resolve(true),
    });
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
    await settle();
    expect(loop.choice()).toBeUndefined();
    synced();
    await settle();
    expect(loop.choice()?.injector).toBe("webhook");
    installed = true;
    tick();
    await settle();
    expect(loop.choice()?.injector).toBe("policy");
    expect(replaced).toBe(1);
    loop.stop();
    tick();
  });
});

describe.skipIf(targetsRealCluster())("the policy keeper on the fake API server", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster.close();
  });

  it("finds the policy missing, then replaces the overlay's placeholder, then leaves it alone, and the pod is injected", async () => {
    const config = testPolicy();
    const facts = testFacts();
    const keeper = makePolicyKeeper({ store: kubePolicyStore(cluster.kc), config, facts, logger: silentLogger });
    expect(await servesMutatingPolicies(cluster.kc)).toBe(true);
    expect(await keeper.reconcile()).toBe("missing");

    const overlay = YAML.parseAllDocuments(readFileSync(join(import.meta.dirname, "..", "..", "manifests", "overlays", "policy", "policy.yaml"), "utf8")).map((d) => d.toJS() as KubernetesObject);
    const objects = KubernetesObjectApi.makeApiClient(cluster.kc);
    const policyRef = { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingAdmissionPolicy", metadata: { name: "lameduck" } };
    for (const o of overlay) await objects.create(o);
    // The placeholder injects nothing: check says so, and does not yet tell to unregister the webhook.
    const waiting = await judgeInjector(cluster.kc, undefined, true);
    expect(waiting.map((f) => f.level)).toEqual(["PASS", "WARN"]);
    expect(waiting[1]?.message).toMatch(/^MutatingAdmissionPolicy lameduck is still the placeholder of manifests\/overlays\/policy .*keep the webhook registered until then$/);
    const exposed = await judgeInjector(cluster.kc, undefined, false);
    expect(exposed.map((f) => f.level)).toEqual(["PASS", "FAIL"]);
    expect(exposed[1]?.message).toContain("the webhook is not registered: pods are created without lameduck's preStop");
    expect(await keeper.reconcile()).toBe("updated");
    expect(await keeper.reconcile()).toBe("unchanged");
    // `kubectl apply -k manifests/overlays/policy` again: the placeholder's fields come back (its
    // mutation), the digest annotation stays. The keeper puts the generated spec back.
    const placeholder = overlay.find((o) => o.kind === "MutatingAdmissionPolicy") as KubernetesObject & { spec: unknown };
    await objects.patch({ ...policyRef, spec: placeholder.spec } as KubernetesObject, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
    expect((await judgeInjector(cluster.kc, undefined, true))[1]?.message).toMatch(/^MutatingAdmissionPolicy lameduck is still the placeholder/);
    expect(await keeper.reconcile()).toBe("updated");
    expect(await keeper.reconcile()).toBe("unchanged");

    const want = injectionPolicy(config, { oracleAddress: defaultStaticFacts.oracleAddress, architectures: ["amd64"], hookHash: defaultStaticFacts.hookHash }).policy;
    const stored = await objects.read(policyRef);
    expect(stored.metadata?.annotations?.[specDigestAnnotation]).toBe(specDigest(want["spec"]));

    const core = cluster.kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "shop" } } });
    const pod = await core.createNamespacedPod({ namespace: "shop", body: { metadata: { name: "web-0" }, spec: { containers: [{ name: "web", image: "registry.example/web:1" }] } } });
    expect(pod.metadata?.annotations?.["lameduck.dev/injected"]).toBe("v1 wait");
    expect(pod.spec?.containers[0]?.lifecycle?.preStop?.exec?.command?.[0]).toBe("/.lameduck/hook");
  });

  it("check reports policy mode and the webhook still registered; uninstall deletes the policy and its binding", async () => {
    const [finding, reminder] = await judgeInjector(cluster.kc, undefined, true);
    expect(finding?.level).toBe("PASS");
    expect(finding?.message).toMatch(/^policy: the API server serves .* and MutatingAdmissionPolicy lameduck is installed$/);
    expect(reminder?.message).toContain("the webhook is still registered");

    const lines: string[] = [];
    const dry = await uninstall(cluster.kc, { names: defaultInstallNames, cleanup: false, dryRun: true, timeoutMs: 1000, out: (l) => lines.push(l) });
    expect(dry.failures).toEqual([]);
    expect(lines).toContain("MutatingAdmissionPolicy lameduck and its binding: would delete; the API server no longer injects new pods");
    const objects = KubernetesObjectApi.makeApiClient(cluster.kc);
    const policyRef = { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingAdmissionPolicy", metadata: { name: "lameduck" } };
    const bindingRef = { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingAdmissionPolicyBinding", metadata: { name: "lameduck" } };
    await objects.read(policyRef);
    await uninstall(cluster.kc, { names: defaultInstallNames, cleanup: false, dryRun: false, timeoutMs: 1000, out: () => undefined });
    await expect(objects.read(policyRef)).rejects.toMatchObject({ code: 404 });
    await expect(objects.read(bindingRef)).rejects.toMatchObject({ code: 404 });
    expect((await judgeInjector(cluster.kc, undefined, false))[0]?.message).toMatch(/^webhook: .*is not installed/);
  });
});
