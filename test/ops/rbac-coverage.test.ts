// The RBAC in manifests/ is derived from what the controller does, not written from memory: the real
// controller (informers, distributor, oracle, webhook certificates) runs against the fake API server
// behind a recording proxy through a day in a cluster's life, and every request it makes must be
// allowed by the rendered Roles and bindings for its ServiceAccount, and every grant must be used.
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, KubernetesObjectApi, type KubeConfig, type V1ConfigMap, type V1Namespace, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunConfig, type RunConfig } from "../../injector/config.ts";
import { loadHookSet } from "../../injector/distributor/hookset.ts";
import { silentLogger } from "../../injector/log.ts";
import { Label, managedByValue } from "../../injector/names.ts";
import { startController, type Controller } from "../../injector/run.ts";
import { createCa, issueServing, servingNames } from "../../injector/tls/certs.ts";
import { SecretKey } from "../../injector/tls/secret.ts";
import { body, eventually, fakeHookDir } from "../controllers/harness.ts";
import { startFakeApi, type FakeApi } from "../fakeapi/index.ts";
import { deleteNamespace, finishPod, runPod } from "../support/cluster.ts";
import { describeGrant, grantsOf, grantUsedBy, makeRbac, type ResourceRequest } from "./rbac.ts";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy.ts";
import { applyInstall } from "./install.ts";
import { find, render, type K8sObject } from "./render.ts";
import { publicNonResource, requestInfo, resourceRequests as resourceRequestsOf } from "./requestinfo.ts";

const namespace = "lameduck-system";
const serviceAccount = { namespace, name: "lameduck" };
const day = 24 * 3600 * 1000;

let api: FakeApi;
let admin: KubeConfig;
let core: CoreV1Api;
let proxy: RecordingProxy;
let rendered: K8sObject[];
let hookDir: string;
let hash: string;

/** The controller's flags exactly as the Deployment passes them, plus loopback ports for the test. */
function controllerConfig(): RunConfig {
  const deployment = find(rendered, "Deployment", "lameduck") as { spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } };
  const args = deployment.spec?.template?.spec?.containers?.[0]?.args ?? [];
  const parsed = parseRunConfig([...args, "--bind-address=127.0.0.1", `--hook-dir=${hookDir}`], { POD_NAMESPACE: namespace }, hookDir);
  return { ...parsed, webhookPort: 0, oraclePort: 0, metricsPort: 0 };
}

/** `lameduck run` as injector/run.ts wires it: informers, distributor, oracle and the admission webhook. */
async function startAll(): Promise<Controller> {
  const controller = await startController(controllerConfig(), {
    kc: proxy.kubeConfig(),
    logger: silentLogger,
    registry: new Registry(),
    instance: "rbac-test",
    informerDelay: (ms) => sleep(Math.min(ms, 50)),
    gcRetryMs: 200,
    resyncMs: 60_000,
  });
  await eventually("the controller is ready", () => controller.isReady(), 20_000);
  return controller;
}

async function stopAll(controller: Controller): Promise<void> {
  await controller.stop();
}

async function configMaps(ns: string): Promise<V1ConfigMap[]> {
  return (await core.listNamespacedConfigMap({ namespace: ns })).items.filter((c) => (c.metadata?.name ?? "").startsWith("lameduck-hook-"));
}

function askOracle(port: number, uid: string, wait = 5): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: `/v1/pods/${uid}/drain?wait=${wait}`, headers: { Connection: "close" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => { resolve(text); });
    });
    req.on("error", reject);
    req.end();
  });
}

async function namespaceWith(name: string, labels: Record<string, string> = {}): Promise<void> {
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name, labels } }) });
}

async function podIn(ns: string, name: string, labels: Record<string, string>, node: string, ip: string): Promise<V1Pod> {
  const pod = await core.createNamespacedPod({ namespace: ns, body: body<V1Pod>({ metadata: { name, labels }, spec: { containers: [{ name: "app", image: "app", ports: [{ containerPort: 8080 }] }] } }) });
  await runPod(admin, ns, name, { node, ip });
  return pod;
}

beforeAll(async () => {
  rendered = await render("manifests");
  api = await startFakeApi();
  admin = api.kubeConfig();
  core = admin.makeApiClient(CoreV1Api);
  proxy = await startRecordingProxy(api.url);
  hookDir = fakeHookDir("rbac");
  hash = (await loadHookSet(hookDir)).hash;

  await applyInstall(admin, rendered);

  // A cluster with history: a hook ConfigMap someone stripped of its labels, an old version still
  // mounted by a pod, and a ConfigMap left behind in a namespace that opted out.
  const managed = (h: string): Record<string, string> => ({ [Label.managedBy]: managedByValue, [Label.hook]: h });
  await namespaceWith("tampered");
  await core.createNamespacedConfigMap({ namespace: "tampered", body: body<V1ConfigMap>({ metadata: { name: `lameduck-hook-${hash}` }, immutable: true, binaryData: { "hook-amd64": "AA==" } }) });
  await namespaceWith("oldver");
  await core.createNamespacedConfigMap({ namespace: "oldver", body: body<V1ConfigMap>({ metadata: { name: "lameduck-hook-0ld0ld00", labels: managed("0ld0ld00") }, immutable: true, binaryData: { "hook-amd64": "AA==" } }) });
  await podIn("oldver", "old", { [Label.hook]: "0ld0ld00" }, "node-a", "10.1.0.5");
  await namespaceWith("optout", { [Label.inject]: "false" });
  await core.createNamespacedConfigMap({ namespace: "optout", body: body<V1ConfigMap>({ metadata: { name: `lameduck-hook-${hash}`, labels: managed(hash) }, immutable: true, binaryData: { "hook-amd64": "AA==" } }) });

  // First start: no certificate Secret yet.
  const first = await startAll();
  const controller = first;
  await namespaceWith("shop");
  await eventually("the hook ConfigMap in shop", async () => (await configMaps("shop")).length === 1);
  await eventually("the tampered ConfigMap replaced", async () => (await configMaps("tampered")).some((c) => c.metadata?.labels?.[Label.hook] === hash));
  await eventually("the opted-out namespace cleaned", async () => (await configMaps("optout")).length === 0);

  // A Service with a pod behind it; the pod is deleted and its hook asks the oracle, which looks the
  // pod up, answers drained and records an Event on the pod.
  await core.createNamespacedService({ namespace: "shop", body: body<V1Service>({ metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } }) });
  const web = await podIn("shop", "web-0", { app: "web" }, "node-b", "10.1.0.10");
  await eventually("the oracle sees web-0 serving", async () => (await askOracle(controller.oraclePort, web.metadata?.uid ?? "", 0)).startsWith("serving"));
  await core.deleteNamespacedPod({ namespace: "shop", name: "web-0" });
  await eventually("the oracle says drained", async () => (await askOracle(controller.oraclePort, web.metadata?.uid ?? "")).startsWith("drained"));
  await eventually("an OutOfRotation Event", async () => (await core.listNamespacedEvent({ namespace: "shop" })).items.some((e) => e.reason === "OutOfRotation"));
  await finishPod(admin, "shop", "web-0");

  // The old version is collected once no pod mounts it; a deleted hook ConfigMap is put back.
  await finishPod(admin, "oldver", "old");
  await eventually("the old version collected", async () => !(await configMaps("oldver")).some((c) => c.metadata?.name === "lameduck-hook-0ld0ld00"), 20_000);
  await core.deleteNamespacedConfigMap({ namespace: "shop", name: `lameduck-hook-${hash}` });
  await eventually("the deleted ConfigMap recreated", async () => (await configMaps("shop")).length === 1);
  await deleteNamespace(admin, "shop");
  await eventually("the caBundle written", async () => {
    const mwc = await KubernetesObjectApi.makeApiClient(admin).read({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: "lameduck" } });
    return JSON.stringify(mwc).includes("caBundle");
  });
  await stopAll(first);

  // Second start, a year later as far as the certificate is concerned: the CA is about to expire, so
  // the controller renews it and replaces the Secret.
  const long = new Date(Date.now() - 3640 * day);
  const ca = await createCa(long);
  const serving = await issueServing(ca, servingNames("lameduck-webhook", namespace, undefined), long);
  const secret = await core.readNamespacedSecret({ namespace, name: "lameduck-webhook-tls" });
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  secret.data = { [SecretKey.caCert]: b64(ca.cert), [SecretKey.caKey]: b64(ca.key), [SecretKey.cert]: b64(serving.cert), [SecretKey.key]: b64(serving.key) };
  await core.replaceNamespacedSecret({ namespace, name: "lameduck-webhook-tls", body: secret });
  const before = secret.metadata?.resourceVersion;
  const second = await startAll();
  await eventually("the certificate renewed", async () => (await core.readNamespacedSecret({ namespace, name: "lameduck-webhook-tls" })).metadata?.resourceVersion !== before);
  await stopAll(second);
}, 120_000);

afterAll(async () => {
  await proxy.close();
  await api.close();
});

describe("the rendered RBAC, against what the controller does", () => {
  const resourceRequests = (): { request: ResourceRequest; line: string }[] => resourceRequestsOf(proxy.requests);

  it("saw the controller make requests of every kind the scenario needs", () => {
    const verbs = new Set(resourceRequests().map((r) => `${r.request.verb} ${r.request.resource}`));
    for (const expected of ["create configmaps", "delete configmaps", "get configmaps", "list pods", "get pods", "create events", "create secrets", "update secrets", "patch mutatingwebhookconfigurations", "watch endpointslices"]) {
      expect(verbs, expected).toContain(expected);
    }
  });

  it("allows every request the controller made", () => {
    const rbac = makeRbac(rendered);
    const denied = [...new Set(resourceRequests().filter((r) => !rbac.allows(serviceAccount, r.request)).map((r) => r.line))];
    expect(denied).toEqual([]);
    const nonResource = proxy.requests.filter((r) => requestInfo(r.method, r.url).kind === "nonResource").map((r) => new URL(r.url, "http://x").pathname);
    expect(nonResource.filter((p) => !publicNonResource(p))).toEqual([]);
  });

  it("grants nothing the controller did not use", () => {
    const rbac = makeRbac(rendered);
    const requests = resourceRequests().map((r) => r.request);
    const unused = rbac.rulesOf(serviceAccount).flatMap(grantsOf).filter((g) => !requests.some((r) => grantUsedBy(g, r))).map(describeGrant);
    expect(unused).toEqual([]);
  });
});
