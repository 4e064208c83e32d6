import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, type V1MutatingWebhookConfiguration, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import jsonpatch, { type Operation } from "fast-json-patch";
import { describe, expect, it } from "vitest";
import type { FakeApi } from "../fakeapi/index.ts";
import { createNode } from "../support/cluster.ts";
import { body, eventually, fakeHookDir, freePort, httpGet, startTestController, type TestController, withFakeApi } from "./harness.ts";

let kc: KubeConfig;
let core: CoreV1Api;
let api: FakeApi;
const running: TestController[] = [];

withFakeApi(running, (clients) => {
  ({ kc, core, api } = clients);
});

describe("lameduck run, all parts together", () => {
  it("becomes ready with warm caches and the webhook certificate, and its webhook patches pods with the namespace's hook ConfigMap and the oracle", async () => {
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "lameduck-system" } }) });
    await createNode(kc, { name: "node-a", arch: "amd64", ip: "192.168.1.10" });
    const webhookPort = await freePort();
    await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
      body: body<V1MutatingWebhookConfiguration>({
        metadata: { name: "lameduck" },
        webhooks: [
          {
            name: "pods.lameduck.dev",
            clientConfig: { url: `https://127.0.0.1:${webhookPort}/mutate` },
            rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }],
            failurePolicy: "Ignore",
            sideEffects: "None",
            admissionReviewVersions: ["v1"],
            reinvocationPolicy: "IfNeeded",
            timeoutSeconds: 5,
          },
        ],
      }),
    });
    const c = await startTestController(kc, {
      hookDir: fakeHookDir(),
      admission: true,
      webhookPort,
      args: ["--webhook-url", `https://127.0.0.1:${webhookPort}/mutate`, "--oracle-address", "10.96.40.7:8080"],
    });
    running.push(c);
    await eventually("the webhook listening", () => c.webhookPort() === webhookPort);
    await eventually("ready", async () => (await httpGet(c.metricsPort, "/readyz")).startsWith("200"));
    expect(await httpGet(c.metricsPort, "/healthz")).toBe("200 ok\n");
    expect(await httpGet(c.metricsPort, "/metrics")).toContain("lameduck_oracle_active_waits 0");

    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    const hash = c.facts.currentHookHash();
    await eventually("the ConfigMap in the webhook's facts", () => c.facts.hookConfigMap("shop")?.hash === hash);
    expect([...c.facts.nodeArchitectures()]).toEqual(["amd64"]);
    expect(c.facts.nativeSleep()).toBe(true);
    // First the AdmissionReview the API server sends, trusting the CA lameduck wrote into the
    // webhook configuration.
    const config = await kc.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: "lameduck" });
    const ca = Buffer.from(config.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString();
    expect(config.webhooks?.[0]?.clientConfig.url).toBe(`https://127.0.0.1:${webhookPort}/mutate`);
    const review = JSON.parse(readFileSync(new URL("../fixtures/real/admission-plain-pod.json", import.meta.url), "utf8")) as {
      request: { namespace: string; object: Record<string, unknown> };
    };
    review.request.namespace = "shop";
    const answer = await postReview(webhookPort, ca, JSON.stringify(review));
    expect(answer.response.allowed).toBe(true);
    const ops = JSON.parse(Buffer.from(answer.response.patch ?? "", "base64").toString()) as Operation[];
    const pod = jsonpatch.applyPatch(structuredClone(review.request.object), ops).newDocument as {
      spec: { containers: { lifecycle?: { preStop?: { exec?: { command?: string[] } } } }[]; volumes?: { name: string; projected?: { sources?: { configMap?: { name?: string } }[] } }[] };
    };
    expect(pod.spec.containers[0]?.lifecycle?.preStop?.exec?.command?.slice(0, 3)).toEqual(["/.lameduck/hook", "wait", "--oracle=10.96.40.7:8080"]);
    const volume = pod.spec.volumes?.find((v) => v.name === "lameduck");
    expect(volume?.projected?.sources?.[0]?.configMap?.name).toBe(`lameduck-hook-${hash ?? ""}`);

    // And through the API server, which calls the webhook itself.
    const created = await core.createNamespacedPod({
      namespace: "shop",
      body: body<V1Pod>({ metadata: { generateName: "web-" }, spec: { containers: [{ name: "web", image: "web" }] } }),
    });
    expect(created.spec?.containers[0]?.lifecycle?.preStop?.exec?.command?.[0]).toBe("/.lameduck/hook");
    expect(created.spec?.volumes?.find((v) => v.name === "lameduck")?.projected?.sources?.[0]?.configMap?.name).toBe(`lameduck-hook-${hash ?? ""}`);
    // Both were counted in the process's registry.
    expect(await c.metric("lameduck_admission_reviews_total", { result: "patched" })).toBe(2);
  });
});

describe("lameduck run when the webhook cannot start yet", () => {
  it("keeps the oracle and the distributor working, stays unready, and starts the webhook once it can", async () => {
    // No lameduck-system namespace: the webhook's certificate Secret cannot be created.
    const c = await startTestController(kc, { hookDir: fakeHookDir(), admission: true, admissionStartWaitMs: 0 });
    running.push(c);
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    await eventually("shop's ConfigMap", () => c.facts.hookConfigMap("shop") !== undefined);
    expect(await httpGet(c.oraclePort, "/v1/pods/nobody/drain")).toBe("200 unselected\n");
    expect(c.webhookPort()).toBeUndefined();
    // Caches synced, the webhook not serving: /readyz says so, and why (once the first attempt has
    // failed; before that it says "starting").
    const why = /^503 not ready: webhook not serving: loading its certificate failed: .*lameduck-system.* not found.*; retrying\n$/;
    await eventually("only the webhook missing, and why", async () => why.test(await httpGet(c.metricsPort, "/readyz")));
    expect(await httpGet(c.metricsPort, "/readyz")).toMatch(why);
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "lameduck-system" } }) });
    await eventually("the webhook started", () => c.webhookPort() !== undefined);
    await eventually("ready", async () => (await httpGet(c.metricsPort, "/readyz")).startsWith("200"));
    expect(await httpGet(c.metricsPort, "/metrics")).toContain("lameduck_admission_reviews_total");
  });
});

describe("lameduck run's readiness", () => {
  it("names every part that is missing: a cache that has not synced and the webhook", async () => {
    // The first list of nodes hangs: that cache cannot sync.
    api.faults.stallNext(1, (r) => r.resource === "nodes" && r.verb === "list");
    const c = await startTestController(kc, { hookDir: fakeHookDir(), admission: true, admissionStartWaitMs: 0 });
    running.push(c);
    await eventually("the other caches synced", () => c.informers.namespaces.hasSynced() && c.informers.endpointSlices.hasSynced());
    const text = await httpGet(c.metricsPort, "/readyz");
    expect(text).toMatch(/^503 not ready: /);
    // Only nodes is named as a cache (the webhook's part may name the namespace its Secret waits for).
    expect(/caches not synced: ([^;]*);/.exec(text)?.[1]).toBe("nodes");
    expect(text).toContain("webhook not serving: ");
    api.faults.releaseStalled();
  });
});

function postReview(port: number, ca: string, payload: string): Promise<{ response: { allowed: boolean; patch?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/mutate", method: "POST", ca, headers: { "Content-Type": "application/json" }, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          resolve(JSON.parse(text) as { response: { allowed: boolean; patch?: string } });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
