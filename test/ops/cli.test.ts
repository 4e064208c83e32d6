// `lameduck check`, `status` and `uninstall` against the fake API server with the real controller
// running: what an operator sees on a healthy installation, on a broken one, and while removing it.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, KubernetesObjectApi, type KubeConfig, type V1ConfigMap, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode, parseRunConfig } from "../../injector/config.ts";
import { loadHookSet } from "../../injector/distributor/hookset.ts";
import { silentLogger } from "../../injector/log.ts";
import { markerVersion } from "../../injector/mutation/decide.ts";
import { Annotation, Label, managedByValue } from "../../injector/names.ts";
import { opsMain, type OpsCommand } from "../../injector/ops/commands.ts";
import { startController, type Controller } from "../../injector/run.ts";
import { body, eventually, fakeHookDir } from "../controllers/harness.ts";
import { startFakeApi, type FakeApi } from "../fakeapi/index.ts";
import { runPod } from "../support/cluster.ts";
import { applyInstall } from "./install.ts";
import { controllerPod, find, render, type K8sObject } from "./render.ts";

const namespace = "lameduck-system";
let api: FakeApi;
let admin: KubeConfig;
let core: CoreV1Api;
let rendered: K8sObject[];
let hookDir: string;
let hash: string;
let controller: Controller | undefined;

let clock = (): Date => new Date();

async function lameduck(command: OpsCommand, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await opsMain(command, args, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    hookDir,
    kubeConfig: () => admin,
    now: clock,
    sleep: (ms) => sleep(Math.min(ms, 20)),
  });
  return { code, out, err };
}

async function hookConfigMaps(): Promise<string[]> {
  const all = await core.listConfigMapForAllNamespaces();
  return all.items.map((c) => `${c.metadata?.namespace ?? ""}/${c.metadata?.name ?? ""}`).filter((n) => n.includes("/lameduck-hook-")).sort();
}

async function pod(ns: string, name: string, annotations: Record<string, string>, labels: Record<string, string>, ip: string): Promise<void> {
  await core.createNamespacedPod({ namespace: ns, body: body<V1Pod>({ metadata: { name, annotations, labels }, spec: { containers: [{ name: "app", image: "app" }] } }) });
  await runPod(admin, ns, name, { node: "node-a", ip });
}

async function stopController(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}

beforeAll(async () => {
  rendered = await render("manifests");
  api = await startFakeApi();
  admin = api.kubeConfig();
  core = admin.makeApiClient(CoreV1Api);
  hookDir = fakeHookDir("cli");
  hash = (await loadHookSet(hookDir)).hash;
  await applyInstall(admin, rendered);
  for (const name of ["shop", "web"]) await core.createNamespace({ body: body<V1Namespace>({ metadata: { name } }) });
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "quiet", labels: { [Label.inject]: "false" } } }) });

  const deployment = find(rendered, "Deployment", "lameduck") as { spec?: { template?: { metadata?: { labels?: Record<string, string> }; spec?: { containers?: { args?: string[] }[] } } } };
  const args = deployment.spec?.template?.spec?.containers?.[0]?.args ?? [];
  const config = { ...parseRunConfig([...args, "--bind-address=127.0.0.1", `--hook-dir=${hookDir}`], { POD_NAMESPACE: namespace }, hookDir), webhookPort: 0, oraclePort: 0, metricsPort: 0 };
  const registry = new Registry();
  const started = await startController(config, { kc: admin, logger: silentLogger, registry, instance: "cli-test", informerDelay: (ms) => sleep(Math.min(ms, 50)) });
  controller = started;
  // The controller's own pod, as the Deployment would run it: it makes the webhook and oracle
  // Services' endpoints.
  await core.createNamespacedPod({ namespace, body: controllerPod(rendered) });
  await runPod(admin, namespace, "lameduck-0", { node: "node-a", ip: "10.1.0.2" });
  await eventually("ready", () => started.isReady(), 20_000);
  // Selected: default, kube-public (the fake creates them, as a real cluster has them), shop, web.
  await eventually("hook ConfigMaps in every selected namespace", async () => (await hookConfigMaps()).length === 4);
  await eventually("the caBundle written", async () => JSON.stringify(await KubernetesObjectApi.makeApiClient(admin).read({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: "lameduck" } })).includes("caBundle"));
}, 120_000);

afterAll(async () => {
  await stopController();
  await api.close();
});

describe("lameduck check", () => {
  it("passes a healthy installation, and says the Deployment it cannot see is the only doubt", async () => {
    const oracle = `127.0.0.1:${String(controller?.oraclePort)}`;
    const { code, out } = await lameduck("check", `--oracle=${oracle}`);
    expect(out).toMatch(/^PASS {2}version +Kubernetes v1\.36\.2: the native preStop sleep action is served/m);
    expect(out).toMatch(/^PASS {2}nodes +one architecture: amd64 \(2\)/m);
    expect(out).toMatch(/^PASS {2}webhook +lameduck is registered for pod CREATE, failurePolicy Ignore, timeout 5s/m);
    expect(out).toMatch(/^PASS {2}webhook +Service lameduck-webhook has 1 ready endpoint/m);
    expect(out).toMatch(/^PASS {2}tls +caBundle verifies the serving certificate for lameduck-webhook\.lameduck-system\.svc/m);
    expect(out).toMatch(new RegExp(`^PASS {2}oracle +oracle at ${oracle.replace(/\./g, "\\.")} answers: serving`, "m"));
    expect(out).toMatch(/^PASS {2}pod-security +injected pods pass baseline and restricted/m);
    expect(out).toMatch(new RegExp(`^PASS {2}configmaps +lameduck-hook-${hash} is in all 4 selected namespaces`, "m"));
    expect(out).toMatch(/^WARN {2}controller +Deployment lameduck-system\/lameduck not found/m);
    expect(out).not.toMatch(/^FAIL/m);
    expect(code).toBe(0);
  });

  it("fails, and exits 1, when a selected namespace has no hook ConfigMap", async () => {
    await stopController();
    await core.deleteNamespacedConfigMap({ namespace: "web", name: `lameduck-hook-${hash}` });
    const young = await lameduck("check", "--oracle=127.0.0.1:1", "--timeout=1s");
    expect(young.out).toMatch(/^WARN {2}configmaps +1 namespace\(s\) created in the last 2 minutes lack it so far: web$/m);
    // Ten minutes on, the distributor had all the time it needs.
    clock = () => new Date(Date.now() + 10 * 60 * 1000);
    const { code, out } = await lameduck("check", "--oracle=127.0.0.1:1", "--timeout=1s");
    expect(out).toMatch(/^FAIL {2}configmaps +1 of 4 selected namespaces lack lameduck-hook-/m);
    expect(out).toMatch(/^ +web$/m);
    expect(out).toMatch(/^FAIL {2}oracle +oracle at 127\.0\.0\.1:1 did not answer/m);
    expect(code).toBe(1);
  });

  it("rejects unknown flags with its usage", async () => {
    const { code, err } = await lameduck("check", "--bogus");
    expect(code).toBe(2);
    expect(err).toContain("Usage: lameduck check");
  });
});

describe("lameduck status", () => {
  it("counts injected pods per mode and hook version, per namespace", async () => {
    // The marker exactly as the webhook writes it (the fake cannot reach the webhook by Service name
    // with a certificate for that name, so these pods carry what an injection leaves).
    const marker = (mode: string): string => `${markerVersion} ${mode}`;
    await pod("shop", "a", { [Annotation.injected]: marker(Mode.wait) }, { [Label.hook]: hash }, "10.1.0.10");
    await pod("shop", "b", { [Annotation.injected]: marker(Mode.wait) }, { [Label.hook]: hash }, "10.1.0.11");
    await pod("shop", "c", { [Annotation.injected]: marker(Mode.sleep) }, {}, "10.1.0.12");
    await pod("shop", "d", {}, {}, "10.1.0.13");
    const { code, out } = await lameduck("status");
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`^shop +${hash} +4 +2 +1 +${hash}=2$`, "m"));
    expect(out).toMatch(/^default +[0-9a-f]{8} +0 +0 +0 +-$/m);
    // web lost its ConfigMap above and has no pods: nothing to show (check reports the gap).
    expect(out).not.toMatch(/^web /m);
    expect(out).toContain(`5 running pods, 3 injected (wait 2, sleep 1); hook versions in the cluster: ${hash}`);

    const json = await lameduck("status", "-o", "json");
    const parsed = JSON.parse(json.out) as { namespaces: { namespace: string; pods: number; injected: Record<string, number> }[] };
    expect(parsed.namespaces.find((n) => n.namespace === "shop")).toMatchObject({ pods: 4, injected: { wait: 2, sleep: 1 } });
  });
});

describe("lameduck uninstall", () => {
  const webhookExists = async (): Promise<boolean> =>
    KubernetesObjectApi.makeApiClient(admin)
      .read({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: "lameduck" } })
      .then(() => true, () => false);

  it("with --dry-run lists what it would remove and removes nothing", async () => {
    const before = await hookConfigMaps();
    const { code, out } = await lameduck("uninstall", "--cleanup", "--dry-run");
    expect(code).toBe(0);
    expect(out).toContain("MutatingWebhookConfiguration lameduck: would delete");
    expect(out).toContain(`ConfigMap shop/lameduck-hook-${hash}: would delete`);
    expect(await webhookExists()).toBe(true);
    expect(await hookConfigMaps()).toEqual(before);
  });

  it("without --cleanup removes only the webhook, so running hooks still get answers", async () => {
    const before = await hookConfigMaps();
    const { code, out } = await lameduck("uninstall");
    expect(code).toBe(0);
    expect(out).toContain("MutatingWebhookConfiguration lameduck: deleted");
    expect(await webhookExists()).toBe(false);
    expect(await hookConfigMaps()).toEqual(before);
  });

  it("with --cleanup deletes every hook ConfigMap it created, and nothing else", async () => {
    const managed = { [Label.managedBy]: managedByValue, [Label.hook]: "0ld0ld00" };
    await core.createNamespacedConfigMap({ namespace: "web", body: body<V1ConfigMap>({ metadata: { name: "lameduck-hook-0ld0ld00", labels: managed }, immutable: true, data: {} }) });
    await core.createNamespacedConfigMap({ namespace: "web", body: body<V1ConfigMap>({ metadata: { name: "settings", labels: { [Label.managedBy]: managedByValue } }, data: {} }) });
    await core.createNamespacedConfigMap({ namespace: "web", body: body<V1ConfigMap>({ metadata: { name: "lameduck-hook-mine" }, data: {} }) });
    const firstRequest = api.requests.length;
    const { code, out } = await lameduck("uninstall", "--cleanup");
    expect(code).toBe(0);
    expect(out).toContain("MutatingWebhookConfiguration lameduck: not found");
    expect(out).toContain(`ConfigMap shop/lameduck-hook-${hash}: deleted`);
    expect(out).toContain("ConfigMap web/lameduck-hook-0ld0ld00: deleted");
    expect(out).toContain("removed 4 hook ConfigMap(s) from 4 namespace(s)");
    expect(await hookConfigMaps()).toEqual(["web/lameduck-hook-mine"]);
    const left = (await core.listNamespacedConfigMap({ namespace: "web" })).items.map((c) => c.metadata?.name);
    expect(left).toContain("settings");
    const deletes = api.requests.slice(firstRequest).filter((r) => r.verb === "delete").map((r) => r.resource);
    expect(deletes).toEqual(["configmaps", "configmaps", "configmaps", "configmaps"]);
  });

  it("deletes the webhook before any ConfigMap", async () => {
    await KubernetesObjectApi.makeApiClient(admin).create(find(rendered, "MutatingWebhookConfiguration", "lameduck"));
    await core.createNamespacedConfigMap({ namespace: "shop", body: body<V1ConfigMap>({ metadata: { name: `lameduck-hook-${hash}`, labels: { [Label.managedBy]: managedByValue, [Label.hook]: hash } }, immutable: true, data: {} }) });
    const firstRequest = api.requests.length;
    expect((await lameduck("uninstall", "--cleanup")).code).toBe(0);
    const deletes = api.requests.slice(firstRequest).filter((r) => r.verb === "delete").map((r) => r.resource);
    expect(deletes).toEqual(["mutatingwebhookconfigurations", "configmaps"]);
  });
});
