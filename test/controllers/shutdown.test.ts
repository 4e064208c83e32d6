// `lameduck run`'s shutdown, in a child process against the fake API server: unready at once, still
// serving the webhook and the oracle for --shutdown-delay, then held long-polls answered, exit 0.
import { AdmissionregistrationV1Api, CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1MutatingWebhookConfiguration, type V1Namespace, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FakeApi } from "../fakeapi/index.ts";
import { createNode, runPod } from "../support/cluster.ts";
import { ask, body, eventually, httpGet, type RunProcess, spawnRun, withFakeApi } from "./harness.ts";

let api: FakeApi;
let kc: KubeConfig;
let core: CoreV1Api;
const children: RunProcess[] = [];

withFakeApi([], (clients) => {
  ({ api, kc, core } = clients);
});
beforeEach(async () => {
  await createNode(kc, { name: "node-a", ip: "192.168.1.10" });
  // Where the webhook keeps its certificate Secret, as in a real install.
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "lameduck-system" } }) });
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
});
// Runs before withFakeApi's afterEach (vitest runs after-hooks in reverse): children die first.
afterEach(() => {
  for (const { child } of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

/** A Service web (port 80 → 8080) with `count` running pods behind it; returns their uids. */
async function webPods(count: number): Promise<string[]> {
  await core.createNamespacedService({
    namespace: "shop",
    body: body<V1Service>({ metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } }),
  });
  const uids: string[] = [];
  for (let i = 0; i < count; i++) {
    const pod = await core.createNamespacedPod({
      namespace: "shop",
      body: body<V1Pod>({ metadata: { name: `web-${i}`, labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "web", ports: [{ containerPort: 8080 }] }] } }),
    });
    await runPod(kc, "shop", `web-${i}`, { node: "node-a", ip: `10.1.0.${i + 10}` });
    uids.push(pod.metadata?.uid ?? "");
  }
  return uids;
}

/**
 * Pods being deleted whose hooks' questions stay held: the oracle holds only for a pod deleted
 * through the API, and a slice written by hand (no Service selects these pods) keeps them ready
 * until the test says otherwise. Returns their uids.
 */
async function deletedPods(names: readonly string[]): Promise<string[]> {
  const uids: string[] = [];
  for (const [i, name] of names.entries()) {
    const pod = await core.createNamespacedPod({ namespace: "shop", body: body<V1Pod>({ metadata: { name }, spec: { containers: [{ name: "web", image: "web" }] } }) });
    await runPod(kc, "shop", name, { node: "node-a", ip: `10.1.1.${i + 10}` });
    uids.push(pod.metadata?.uid ?? "");
  }
  await writeSlice(names, uids, () => true);
  for (const name of names) await core.deleteNamespacedPod({ namespace: "shop", name, gracePeriodSeconds: 30 });
  return uids;
}

async function writeSlice(names: readonly string[], uids: readonly string[], ready: (name: string) => boolean): Promise<void> {
  const slice = body<V1EndpointSlice>({
    metadata: { name: "held", labels: { "kubernetes.io/service-name": "held" } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: names.map((name, i) => ({
      addresses: [`10.1.1.${i + 10}`],
      conditions: { ready: ready(name), serving: true, terminating: !ready(name) },
      nodeName: "node-a",
      targetRef: { kind: "Pod", namespace: "shop", name, uid: uids[i] ?? "" },
    })),
  });
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const existing = await discovery.readNamespacedEndpointSlice({ namespace: "shop", name: "held" }).catch(() => undefined);
  if (existing === undefined) await discovery.createNamespacedEndpointSlice({ namespace: "shop", body: slice });
  else await discovery.replaceNamespacedEndpointSlice({ namespace: "shop", name: "held", body: { ...slice, metadata: { ...slice.metadata, resourceVersion: existing.metadata?.resourceVersion ?? "" } } });
}

/** `lameduck run` with its webhook registered by URL, so the fake API server calls it for pod creates. */
async function startRun(shutdownDelay: string): Promise<RunProcess> {
  const run = await spawnRun(api.kubeconfigYaml(), [`--shutdown-delay=${shutdownDelay}`, "--oracle-address=10.96.40.7:8080"]);
  const webhookUrl = `https://127.0.0.1:${run.webhookPort}/mutate`;
  // Registered with the process already starting: it writes the caBundle once the configuration exists.
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: body<V1MutatingWebhookConfiguration>({
      metadata: { name: "lameduck" },
      webhooks: [
        {
          name: "pods.lameduck.dev",
          clientConfig: { url: webhookUrl },
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
  children.push(run);
  return run;
}

/** The preStop command of a pod created now through the API (undefined: the webhook did not answer). */
async function createdPodHook(): Promise<string | undefined> {
  const pod = await core.createNamespacedPod({
    namespace: "shop",
    body: body<V1Pod>({ metadata: { generateName: "api-", labels: { app: "api" } }, spec: { containers: [{ name: "api", image: "api" }] } }),
  });
  return pod.spec?.containers[0]?.lifecycle?.preStop?.exec?.command?.[0];
}

async function ready(run: RunProcess, uid: string): Promise<void> {
  await eventually("ready (caches synced, webhook certificate loaded)", async () => (await httpGet(run.metricsPort, "/readyz")).startsWith("200"), 20_000);
  await eventually("serving", async () => (await ask(run.oraclePort, uid, 0)).startsWith("serving"), 20_000);
}

/** Resolves with the answer and when it came, measured from `since()`. */
function timed(answer: Promise<string>, since: () => number): Promise<{ text: string; ms: number }> {
  return answer.then((text) => ({ text, ms: Date.now() - since() }));
}

const serving = "serving ports=8080 node=192.168.1.10\n";

describe("lameduck run on SIGTERM", () => {
  it("keeps answering for the shutdown delay, answers the held long-polls when it ends, and exits 0", async () => {
    const [uid = ""] = await deletedPods(["held-0"]);
    const run = await startRun("1s");
    await ready(run, uid);
    let signalled = 0;
    const held = timed(ask(run.oraclePort, uid, 30), () => signalled);
    await eventually("the question held", async () => /lameduck_oracle_active_waits 1\b/.test(await httpGet(run.metricsPort, "/metrics")));
    signalled = Date.now();
    run.child.kill("SIGTERM");
    const answer = await held;
    expect(answer.text).toBe(serving);
    // The child's one-second timer starts after the signal is sent, so the answer cannot come sooner.
    // Without the delay it came at once; held to its wait it would take 30 s. Two seconds of slack
    // for a loaded machine.
    expect(answer.ms).toBeGreaterThanOrEqual(990);
    expect(answer.ms).toBeLessThan(3_000);
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toContain("signal received: not ready, serving until the shutdown delay ends");
    expect(run.output()).toContain('"shutdownDelayMs":1000');
    await expect(ask(run.oraclePort, uid, 0)).rejects.toThrow();
  }, 60_000);

  it("is unready at once and meanwhile admits pods through its webhook and answers new long-polls from the live cache", async () => {
    const [web0 = ""] = await webPods(1);
    const [held0 = "", held1 = ""] = await deletedPods(["held-0", "held-1"]);
    const run = await startRun("60s");
    await ready(run, held0);
    await eventually("pods get the hook from the webhook", async () => (await createdPodHook()) === "/.lameduck/hook", 20_000);
    let signalled = 0;
    const heldBefore = timed(ask(run.oraclePort, held0, 30), () => signalled);
    await eventually("the question held", async () => /lameduck_oracle_active_waits 1\b/.test(await httpGet(run.metricsPort, "/metrics")));
    signalled = Date.now();
    run.child.kill("SIGTERM");
    await eventually("unready", async () => (await httpGet(run.metricsPort, "/readyz")) === "503 not ready: shutting down\n", 5_000);
    // Seconds at most, against a 60 s delay: readiness does not wait for it.
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(await createdPodHook()).toBe("/.lameduck/hook");
    expect(await ask(run.oraclePort, web0, 0)).toBe(serving);
    // A long-poll made during the delay is held, and answered when its pod leaves rotation.
    const heldDuring = ask(run.oraclePort, held1, 30);
    await eventually("both questions held", async () => /lameduck_oracle_active_waits 2\b/.test(await httpGet(run.metricsPort, "/metrics")));
    await writeSlice(["held-0", "held-1"], [held0, held1], (name) => name !== "held-1");
    expect(await heldDuring).toMatch(/^drained /);
    expect(run.child.exitCode).toBeNull();

    // A second signal ends the delay: the held question is answered and the process exits.
    const second = Date.now();
    run.child.kill("SIGTERM");
    expect((await heldBefore).text).toBe(serving);
    expect(await run.exited, run.output()).toBe(0);
    expect(Date.now() - second).toBeLessThan(15_000);
    expect(run.output()).toContain("second signal: shutting down without the rest of the delay");
  }, 60_000);

  it("with --shutdown-delay=0 answers the held long-polls at once with the current state and exits 0", async () => {
    const [uid = ""] = await deletedPods(["held-0"]);
    const run = await startRun("0");
    await ready(run, uid);
    const held = [ask(run.oraclePort, uid, 30), ask(run.oraclePort, uid, 30)];
    await eventually("two held questions", async () => /lameduck_oracle_active_waits 2\b/.test(await httpGet(run.metricsPort, "/metrics")));
    const signalled = Date.now();
    run.child.kill("SIGTERM");
    expect(await Promise.all(held)).toEqual([serving, serving]);
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(await run.exited, run.output()).toBe(0);
    // Stopped accepting: the hook's next question goes to the other replica.
    await expect(ask(run.oraclePort, uid, 0)).rejects.toThrow();
  }, 60_000);
});
