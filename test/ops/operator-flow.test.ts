// The operator's whole flow on the local API server, with the webhook actually called: install (the
// rendered manifests), `lameduck check`, pods created through the API come back injected, `lameduck
// status` counts them, `lameduck uninstall --cleanup` leaves new pods alone. The controller runs outside
// the cluster, as `lameduck run --webhook-url` does, because the fake API server has no Service network.
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, KubernetesObjectApi, type KubeConfig, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseRunConfig } from "../../injector/config.ts";
import { silentLogger } from "../../injector/log.ts";
import { Annotation, Label } from "../../injector/names.ts";
import { opsMain, type OpsCommand } from "../../injector/ops/commands.ts";
import { startController, type Controller } from "../../injector/run.ts";
import { body, eventually, fakeHookDir } from "../controllers/harness.ts";
import { startFakeApi, type FakeApi } from "../fakeapi/index.ts";
import { createNode, runPod } from "../support/cluster.ts";
import { controllerPod, find, render, type K8sObject } from "./render.ts";

let api: FakeApi;
let admin: KubeConfig;
let core: CoreV1Api;
let controller: Controller | undefined;
let rendered: K8sObject[];
const hookDir = fakeHookDir("flow");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise((r) => server.close(r));
  return port;
}

async function lameduck(command: OpsCommand, ...args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await opsMain(command, args, { out: (t) => (out += t), err: (t) => (out += t), hookDir, kubeConfig: () => admin, sleep: (ms) => sleep(Math.min(ms, 20)) });
  return { code, out };
}

async function createPod(namespace: string, name: string): Promise<V1Pod> {
  return core.createNamespacedPod({ namespace, body: body<V1Pod>({ metadata: { name, labels: { app: name } }, spec: { containers: [{ name: "app", image: "app", ports: [{ containerPort: 8080 }] }] } }) });
}

beforeAll(async () => {
  rendered = await render("manifests");
  api = await startFakeApi();
  admin = api.kubeConfig();
  core = admin.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(admin);
  for (const kind of ["Namespace", "Service", "MutatingWebhookConfiguration"]) {
    for (const o of rendered.filter((x) => x.kind === kind)) await objects.create(o);
  }
  await createNode(admin, { name: "node-a", ip: "192.168.1.10" });
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "legacy", labels: { [Label.inject]: "false" } } }) });

  const deployment = find(rendered, "Deployment", "lameduck") as { spec?: { template?: { metadata?: { labels?: Record<string, string> }; spec?: { containers?: { args?: string[] }[] } } } };
  const args = deployment.spec?.template?.spec?.containers?.[0]?.args ?? [];
  const port = await freePort();
  const config = {
    ...parseRunConfig([...args, "--bind-address=127.0.0.1", `--hook-dir=${hookDir}`, `--webhook-url=https://127.0.0.1:${String(port)}/mutate`, `--webhook-port=${String(port)}`], { POD_NAMESPACE: "lameduck-system" }, hookDir),
    oraclePort: 0,
    metricsPort: 0,
  };
  const started = await startController(config, { kc: admin, logger: silentLogger, registry: new Registry(), instance: "flow-test", informerDelay: (ms) => sleep(Math.min(ms, 50)) });
  controller = started;
  // The controller's own pod gives the webhook and oracle Services their endpoints.
  await core.createNamespacedPod({ namespace: "lameduck-system", body: controllerPod(rendered) });
  await runPod(admin, "lameduck-system", "lameduck-0", { node: "node-a", ip: "10.1.0.2" });
  await eventually("ready", () => started.isReady(), 20_000);
  await eventually("the webhook registration points at the controller", async () =>
    JSON.stringify(await objects.read({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: "lameduck" } })).includes("caBundle"),
  );
  await eventually("the hook ConfigMap in shop", async () => (await core.listNamespacedConfigMap({ namespace: "shop" })).items.some((c) => (c.metadata?.name ?? "").startsWith("lameduck-hook-")));
}, 120_000);

afterAll(async () => {
  await controller?.stop();
  await api.close();
});

it("checks an installation, injects pods created through the API, counts them, and uninstalls", async () => {
  const check = await lameduck("check", `--oracle=127.0.0.1:${String(controller?.oraclePort)}`);
  expect(check.out).toMatch(/^PASS {2}tls +caBundle verifies the serving certificate for 127\.0\.0\.1/m);
  expect(check.out).toMatch(/^PASS {2}oracle +.* answers: serving/m);
  expect(check.out).not.toMatch(/^FAIL/m);
  expect(check.code).toBe(0);

  const injected = await createPod("shop", "web");
  expect(injected.metadata?.annotations?.[Annotation.injected]).toBe("v1 wait");
  expect(JSON.stringify(injected.spec?.containers[0]?.lifecycle?.preStop)).toContain("/.lameduck/hook");
  const skipped = await createPod("legacy", "old");
  expect(skipped.metadata?.annotations?.[Annotation.injected]).toBeUndefined();
  await runPod(admin, "shop", "web", { node: "node-a", ip: "10.1.0.10" });
  await runPod(admin, "legacy", "old", { node: "node-a", ip: "10.1.0.11" });

  const status = await lameduck("status");
  expect(status.out).toMatch(/^shop +[0-9a-f]{8} +1 +1 +0 +[0-9a-f]{8}=1$/m);
  expect(status.out).toMatch(/^legacy +- +1 +0 +0 +-$/m);

  await controller?.stop();
  controller = undefined;
  const uninstall = await lameduck("uninstall", "--cleanup");
  expect(uninstall.code).toBe(0);
  const registered = await KubernetesObjectApi.makeApiClient(admin)
    .read({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: "lameduck" } })
    .then(() => true, () => false);
  expect(registered).toBe(false);
  expect((await core.listConfigMapForAllNamespaces()).items.filter((c) => (c.metadata?.name ?? "").startsWith("lameduck-hook-"))).toEqual([]);
});
