// The admission path as `lameduck run` starts it, against the local API server: the certificate
// Secret, the webhook configuration's caBundle and URL, and HTTPS verified against the stored CA.
import { createServer as createHttpsServer } from "node:https";
import { connect as tcpConnect, createServer, type AddressInfo } from "node:net";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { once } from "node:events";
import { connect } from "node:tls";
import { startAdmission, webhookDrainMs, type Admission } from "../../injector/admission/start.ts";
import { parseRunConfig, type RunConfig } from "../../injector/config.ts";
import { silentLogger } from "../../injector/log.ts";
import { issueServing } from "../../injector/tls/certs.ts";
import { SecretKey } from "../../injector/tls/secret.ts";
import { defaultStaticFacts, testFacts } from "../support/admission.ts";
import { createNamespace, deleteNamespace, startCluster, type Cluster } from "../support/cluster.ts";
import { httpsRequest, servedFingerprint, testPki } from "../support/https.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const recorded = readFileSync(join(import.meta.dirname, "..", "fixtures", "real", "admission-plain-pod.json"), "utf8");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

function config(port: number, namespace: string, webhookConfig: string): RunConfig {
  return { ...parseRunConfig([`--namespace=${namespace}`, "--bind-address=127.0.0.1", `--webhook-url=https://127.0.0.1:${port}/mutate`, `--webhook-config-name=${webhookConfig}`], {}, "/hook"), webhookPort: port };
}

/** Only pods in `scope` reach the webhook: a real cluster runs other tests' pods at the same time. */
const scopedTo = (scope: string) => ({ matchLabels: { "kubernetes.io/metadata.name": scope } });

async function createWebhookConfiguration(kc: KubeConfig, name: string, scope: string): Promise<void> {
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [
        {
          namespaceSelector: scopedTo(scope),
          name: "pods.lameduck.dev",
          admissionReviewVersions: ["v1"],
          sideEffects: "None",
          failurePolicy: "Ignore",
          reinvocationPolicy: "IfNeeded",
          clientConfig: { service: { name: "lameduck-webhook", namespace: "lameduck-system", path: "/mutate" } },
          rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }],
        },
      ],
    },
  });
}

async function secretData(kc: KubeConfig, namespace: string): Promise<Record<string, string>> {
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: "lameduck-webhook-tls", namespace });
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

describe("startAdmission against the local API server", () => {
  let cluster: Cluster;
  const started: Admission[] = [];
  // Cluster-scoped objects and namespaces get unique names and are removed after each test: a real
  // cluster is shared by every test of the run (LAMEDUCK_TEST_KUBECONFIG).
  let namespace = "";
  let webhookConfig = "";
  const namespaces: string[] = [];
  const webhookConfigs: string[] = [];
  beforeEach(async () => {
    cluster = await startCluster();
    namespace = await createNamespace(cluster.kc, "lameduck-system");
    namespaces.push(namespace);
    webhookConfig = `lameduck-${namespace}`;
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((a) => a.close()));
    const admissionApi = cluster.kc.makeApiClient(AdmissionregistrationV1Api);
    for (const name of [webhookConfig, ...webhookConfigs.splice(0)]) await admissionApi.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
    await Promise.all(namespaces.splice(0).map((ns) => deleteNamespace(cluster.kc, ns)));
    await cluster.close();
  });

  /** A namespace for the test's pods, known to the webhook's facts. */
  async function podNamespace(): Promise<string> {
    const ns = await createNamespace(cluster.kc, "shop");
    namespaces.push(ns);
    return ns;
  }

  function launch(port: number, podNamespaces: readonly string[]): Admission {
    const known = { ...defaultStaticFacts.namespaces, ...Object.fromEntries(podNamespaces.map((ns) => [ns, {}])) };
    const admission = startAdmission({ config: config(port, namespace, webhookConfig), facts: testFacts({ namespaces: known }), logger: silentLogger, registry: new Registry(), kc: cluster.kc, isReady: () => true });
    started.push(admission);
    return admission;
  }

  /**
   * Starts the webhook on a free port and waits until it listens. The webhook URL must name the port before startAdmission listens, so the
   * port is picked and released first; if something else takes it in between (another test, or the
   * other replica), startAdmission would retry that port with backoff: this closes it and tries another.
   */
  async function startOnFreePort(podNamespaces: readonly string[] = []): Promise<{ readonly admission: Admission; readonly port: number }> {
    for (let attempt = 1; ; attempt++) {
      const admission = launch(await freePort(), podNamespaces);
      let taken = false;
      for (let i = 0; i < 500 && admission.port() === undefined && !taken; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        taken = admission.unready()?.includes("EADDRINUSE") === true;
      }
      if (!taken) {
        const port = await admission.listening();
        if (port === undefined) throw new Error("closed before it listened");
        expect(admission.unready()).toBeUndefined();
        return { admission, port };
      }
      await admission.close();
      if (attempt >= 5) throw new Error(`no free port after ${attempt} attempts`);
    }
  }

  it("creates the certificate Secret once for two replicas, puts its CA and URL into the webhook configuration, and serves HTTPS the API server can verify", async () => {
    const { kc } = cluster;
    await createWebhookConfiguration(kc, webhookConfig, namespace);
    const [a, b] = await Promise.all([startOnFreePort(), startOnFreePort()]);
    const data = await secretData(kc, namespace);
    expect(Object.keys(data).sort()).toEqual([SecretKey.caCert, SecretKey.caKey, SecretKey.cert, SecretKey.key].sort());
    const ca = data[SecretKey.caCert] ?? "";

    const mwc = await kc.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: webhookConfig });
    const clientConfig = mwc.webhooks?.[0]?.clientConfig;
    expect(clientConfig?.caBundle).toBe(Buffer.from(ca).toString("base64"));
    expect(clientConfig?.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mutate$/);
    expect(clientConfig?.service).toBeUndefined();

    for (const port of [a.port, b.port]) {
      const answer = await httpsRequest(port, recorded, { ca });
      expect(answer.status).toBe(200);
      expect(answer.body).toContain('"patchType":"JSONPatch"');
    }
    expect(await servedFingerprint(a.port, ca)).toBe(await servedFingerprint(b.port, ca));
  });

  it("serves a certificate another replica stored, moments after the Secret changes", async () => {
    const { kc } = cluster;
    const { port } = await startOnFreePort();
    const data = await secretData(kc, namespace);
    const ca = data[SecretKey.caCert] ?? "";
    const before = await servedFingerprint(port, ca);
    const issued = await issueServing({ cert: ca, key: data[SecretKey.caKey] ?? "" }, { dns: ["lameduck-webhook.lameduck-system.svc", "lameduck-webhook.lameduck-system.svc.cluster.local"], ips: ["127.0.0.1"] }, new Date());
    const core = kc.makeApiClient(CoreV1Api);
    const secret = await core.readNamespacedSecret({ name: "lameduck-webhook-tls", namespace });
    secret.data = { ...secret.data, [SecretKey.cert]: Buffer.from(issued.cert).toString("base64"), [SecretKey.key]: Buffer.from(issued.key).toString("base64") };
    await core.replaceNamespacedSecret({ name: "lameduck-webhook-tls", namespace, body: secret });
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await servedFingerprint(port, ca);
    }
    expect(after).not.toBe(before);
  });

  it("injects a Deployment-style pod (generateName only) created through the API, and a dryRun create stores nothing", async () => {
    const { kc } = cluster;
    const shop = await podNamespace();
    await createWebhookConfiguration(kc, webhookConfig, shop);
    await startOnFreePort([shop]);
    const core = kc.makeApiClient(CoreV1Api);
    const body = { metadata: { generateName: "web-56d4bc6bfb-", labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.example/web:1" }] } };
    const created = await core.createNamespacedPod({ namespace: shop, body });
    expect(created.metadata?.annotations?.["lameduck.dev/injected"]).toBe("v1 wait");
    expect(created.metadata?.labels?.["lameduck.dev/hook"]).toBe("3f2a9c1e");
    expect(created.spec?.terminationGracePeriodSeconds).toBe(60);
    expect(created.spec?.containers[0]?.lifecycle?.preStop?.exec?.command?.[0]).toBe("/.lameduck/hook");
    expect(created.spec?.volumes?.some((v) => v.name === "lameduck")).toBe(true);

    const before = (await core.listNamespacedPod({ namespace: shop })).items.length;
    const dry = await core.createNamespacedPod({ namespace: shop, body: { ...body, metadata: { ...body.metadata, generateName: "dry-" } }, dryRun: "All" });
    expect(dry.metadata?.annotations?.["lameduck.dev/injected"]).toBe("v1 wait");
    expect((await core.listNamespacedPod({ namespace: shop })).items.length).toBe(before);
  });

  it("injects a container a later webhook adds, when the API server reinvokes it", async () => {
    const { kc } = cluster;
    const shop = await podNamespace();
    await createWebhookConfiguration(kc, webhookConfig, shop);
    await startOnFreePort([shop]);
    // A sidecar injector registered after lameduck (configurations are called in name order).
    const pki = await testPki();
    const sidecar = createHttpsServer({ cert: pki.serving.cert, key: pki.serving.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const reviewIn = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request: { uid: string; object: { spec: { containers: { name: string }[] } } } };
        const has = reviewIn.request.object.spec.containers.some((c) => c.name === "mesh-proxy");
        const patch = has ? [] : [{ op: "add", path: "/spec/containers/-", value: { name: "mesh-proxy", image: "registry.example/proxy:1" } }];
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: reviewIn.request.uid, allowed: true, ...(has ? {} : { patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(patch)).toString("base64") }) } }));
      });
    });
    await new Promise<void>((resolve) => sidecar.listen(0, "127.0.0.1", resolve));
    try {
      const sidecarPort = (sidecar.address() as AddressInfo).port;
      webhookConfigs.push(`zz-sidecar-${shop}`);
      await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
        body: {
          metadata: { name: `zz-sidecar-${shop}` },
          webhooks: [{
            name: "sidecar.example.com", admissionReviewVersions: ["v1"], sideEffects: "None", failurePolicy: "Fail", namespaceSelector: scopedTo(shop),
            clientConfig: { url: `https://127.0.0.1:${sidecarPort}/`, caBundle: Buffer.from(pki.ca.cert).toString("base64") },
            rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }],
          }],
        },
      });
      const core = kc.makeApiClient(CoreV1Api);
      const created = await core.createNamespacedPod({ namespace: shop, body: { metadata: { name: "meshed" }, spec: { containers: [{ name: "web", image: "registry.example/web:1" }] } } });
      const containers = created.spec?.containers ?? [];
      expect(containers.map((c) => c.name)).toEqual(["web", "mesh-proxy"]);
      for (const c of containers) {
        expect(c.lifecycle?.preStop?.exec?.command?.[1]).toBe("wait");
        expect(c.volumeMounts?.filter((m) => m.name === "lameduck")).toHaveLength(1);
      }
      expect(created.spec?.volumes?.filter((v) => v.name.startsWith("lameduck"))).toHaveLength(1);
      expect(created.spec?.terminationGracePeriodSeconds).toBe(60);
    } finally {
      await new Promise<void>((resolve) => {
        sidecar.close(() => { resolve(); });
        sidecar.closeAllConnections();
      });
    }
  });

  it("on close answers a review still arriving, lets go of the kept-alive connection, and accepts no more", async () => {
    const { admission, port } = await startOnFreePort();
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    await once(socket, "secureConnect");
    let response = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (response += chunk));
    const ended = once(socket, "close");
    const half = Math.floor(recorded.length / 2);
    socket.write(`POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(recorded)}\r\n\r\n${recorded.slice(0, half)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = Date.now();
    let closed = false;
    const close = admission.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closed).toBe(false);
    socket.write(recorded.slice(half));
    await close;
    await ended;
    expect(response).toMatch(/^HTTP\/1.1 200 /);
    expect(response).toContain('"allowed":true');
    // Well before the drain deadline (webhookDrainMs): the idle connection was closed, not cut off.
    expect(Date.now() - closing).toBeLessThan(webhookDrainMs - 1_000);
    const refused = tcpConnect({ host: "127.0.0.1", port });
    const [err] = (await once(refused, "error")) as [NodeJS.ErrnoException];
    expect(err.code).toBe("ECONNREFUSED");
  });

  it("retries its start until its namespace exists, says meanwhile why it does not serve, and serves once it can", async () => {
    const port = await freePort();
    // A name of its own, created only later: a real cluster is shared by the whole run.
    const notYet = `not-yet-${Math.random().toString(36).slice(2, 8)}`;
    const admission = startAdmission({
      config: config(port, notYet, webhookConfig), facts: testFacts(), logger: silentLogger, registry: new Registry(), kc: cluster.kc, isReady: () => true,
      delay: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 50))),
    });
    started.push(admission);
    for (let i = 0; i < 100 && admission.unready()?.includes("failed") !== true; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(admission.unready()).toMatch(/^webhook not serving: loading its certificate failed: .*; retrying$/);
    expect(admission.port()).toBeUndefined();
    await cluster.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: notYet } } });
    namespaces.push(notYet);
    expect(await admission.listening()).toBe(port);
    expect(admission.unready()).toBeUndefined();
  });

  it("retries while its port is taken, and names the address it could not listen on", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    const admission = startAdmission({
      config: config(port, namespace, webhookConfig), facts: testFacts(), logger: silentLogger, registry: new Registry(), kc: cluster.kc, isReady: () => true,
      delay: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 50))),
    });
    started.push(admission);
    for (let i = 0; i < 100 && admission.unready()?.includes("failed") !== true; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(admission.unready()).toContain(`listening on 127.0.0.1:${port} failed`);
    await new Promise<void>((resolve) => taken.close(() => { resolve(); }));
    expect(await admission.listening()).toBe(port);
    expect(admission.unready()).toBeUndefined();
  });

  it("stops retrying at once when closed while it waits for the next attempt", async () => {
    const admission = startAdmission({
      config: config(await freePort(), `never-${Math.random().toString(36).slice(2, 8)}`, webhookConfig), facts: testFacts(), logger: silentLogger, registry: new Registry(), kc: cluster.kc, isReady: () => true,
    });
    for (let i = 0; i < 100 && admission.unready()?.includes("failed") !== true; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const closing = Date.now();
    await admission.close();
    expect(Date.now() - closing).toBeLessThan(400);
    expect(await admission.listening()).toBeUndefined();
  });
});
