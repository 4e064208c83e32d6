import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { loadHookSet } from "../../injector/distributor/hookset.ts";
import { desiredConfigMap } from "../../injector/distributor/reconcile.ts";
import type { FakeApi } from "../fakeapi/index.ts";
import { createNode, runPod } from "../support/cluster.ts";
import { captureLogger } from "../support/log.ts";
import { body, eventually, fakeHookDir, syncedController, type TestController, withFakeApi } from "./harness.ts";

let api: FakeApi;
let kc: KubeConfig;
let core: CoreV1Api;
const running: TestController[] = [];

withFakeApi(running, (clients) => {
  ({ api, kc, core } = clients);
});

const controller = (options: Partial<Parameters<typeof syncedController>[2]> = {}): Promise<TestController> => syncedController(kc, running, options);

async function hookConfigMaps(ns: string): Promise<V1ConfigMap[]> {
  const list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: "app.kubernetes.io/managed-by=lameduck" });
  return list.items;
}

async function names(ns: string): Promise<string[]> {
  return (await hookConfigMaps(ns)).map((cm) => cm.metadata?.name ?? "").sort();
}

async function createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await core.createNamespace({ body: body<V1Namespace>({ metadata: { name, labels } }) });
}

describe("the hook ConfigMap distributor", () => {
  it("gives a new namespace its immutable hook ConfigMap, event-driven (the resync is minutes away)", async () => {
    const c = await controller();
    const want = `lameduck-hook-${c.distributor.hash}`;
    await createNamespace("shop");
    await eventually("the ConfigMap in shop", async () => (await names("shop")).includes(want), 5_000);
    const [cm] = await hookConfigMaps("shop");
    expect(cm?.immutable).toBe(true);
    expect(Object.keys(cm?.binaryData ?? {}).sort()).toEqual(["hook-amd64", "hook-arm64"]);
    expect(Buffer.from(cm?.binaryData?.["hook-amd64"] ?? "", "base64").toString()).toBe("amd64 hook v1");
    expect(cm?.metadata?.labels).toMatchObject({ "app.kubernetes.io/managed-by": "lameduck", "lameduck.dev/hook": c.distributor.hash });
    await eventually("the webhook's fact", () => c.facts.hookConfigMap("shop")?.name === want);
  });

  it("leaves excluded namespaces and its own namespace alone", async () => {
    await createNamespace("lameduck-system");
    const c = await controller();
    await createNamespace("shop");
    await eventually("shop's ConfigMap", async () => (await names("shop")).length === 1);
    await c.distributor.idle();
    expect(await names("kube-system")).toEqual([]);
    expect(await names("lameduck-system")).toEqual([]);
  });

  it("restores a deleted ConfigMap", async () => {
    const c = await controller();
    const want = `lameduck-hook-${c.distributor.hash}`;
    await createNamespace("shop");
    const first = await eventually("the ConfigMap", async () => (await hookConfigMaps("shop"))[0]);
    await core.deleteNamespacedConfigMap({ namespace: "shop", name: want });
    const again = await eventually("a new ConfigMap", async () => {
      const cm = (await hookConfigMaps("shop"))[0];
      return cm !== undefined && cm.metadata?.uid !== first.metadata?.uid ? cm : undefined;
    });
    expect(again.metadata?.name).toBe(want);
  });

  it("replaces an altered ConfigMap, deleting and recreating it because it is immutable", async () => {
    const c = await controller();
    const want = `lameduck-hook-${c.distributor.hash}`;
    await createNamespace("shop");
    await eventually("the ConfigMap", async () => (await names("shop")).includes(want));
    // Someone replaces it with different content under the same name.
    await core.deleteNamespacedConfigMap({ namespace: "shop", name: want });
    await core.createNamespacedConfigMap({
      namespace: "shop",
      body: body<V1ConfigMap>({
        metadata: { name: want, labels: { "app.kubernetes.io/managed-by": "lameduck", "lameduck.dev/hook": c.distributor.hash } },
        immutable: true,
        binaryData: { "hook-amd64": "AAAA", "hook-arm64": "AAAA" },
      }),
    });
    await eventually("the right content again", async () => {
      const cm = (await hookConfigMaps("shop"))[0];
      return Buffer.from(cm?.binaryData?.["hook-amd64"] ?? "", "base64").toString() === "amd64 hook v1";
    });
  });

  it("reads a hook ConfigMap's content once per version, and never the one it created", async () => {
    const hookDir = fakeHookDir();
    await createNamespace("before");
    await core.createNamespacedConfigMap({ namespace: "before", body: desiredConfigMap(await loadHookSet(hookDir), "before") });
    const c = await controller({ hookDir, resyncMs: 100 });
    await createNamespace("after");
    await eventually("after's ConfigMap", async () => (await names("after")).length === 1);
    // Several resyncs: every namespace reconciled again, from the cache and the verdicts.
    await new Promise((r) => setTimeout(r, 500));
    await c.distributor.idle();
    const gets = (ns: string): number => api.requests.filter((r) => r.resource === "configmaps" && r.verb === "get" && r.namespace === ns).length;
    expect(gets("before")).toBe(1);
    expect(gets("after")).toBe(0);
    expect(c.facts.hookConfigMap("before")?.hash).toBe(c.distributor.hash);
  });

  it("removes the ConfigMap from a namespace that opts out", async () => {
    await controller();
    await createNamespace("shop");
    await eventually("the ConfigMap", async () => (await names("shop")).length === 1);
    const ns = await core.readNamespace({ name: "shop" });
    if (ns.metadata !== undefined) ns.metadata.labels = Object.assign(ns.metadata.labels ?? {}, { "lameduck.dev/inject": "false" });
    await core.replaceNamespace({ name: "shop", body: ns });
    await eventually("no ConfigMap", async () => (await names("shop")).length === 0);
  });

  it("under opt-in, only namespaces labelled lameduck.dev/inject=true get the ConfigMap", async () => {
    const c = await controller({ args: ["--namespace-selection", "opt-in"] });
    await createNamespace("plain");
    await createNamespace("chosen", { "lameduck.dev/inject": "true" });
    await eventually("chosen's ConfigMap", async () => (await names("chosen")).length === 1);
    await c.distributor.idle();
    expect(await names("plain")).toEqual([]);
  });

  it("deletes an old version once no pod carries its label, and keeps it while one does", async () => {
    await createNode(kc, { name: "node-a", ip: "192.168.1.10" });
    await createNamespace("shop");
    const old = "deadbeef";
    await core.createNamespacedConfigMap({
      namespace: "shop",
      body: body<V1ConfigMap>({
        metadata: { name: `lameduck-hook-${old}`, labels: { "app.kubernetes.io/managed-by": "lameduck", "lameduck.dev/hook": old } },
        immutable: true,
        binaryData: { "hook-amd64": "AAAA", "hook-arm64": "AAAA" },
      }),
    });
    await core.createNamespacedPod({
      namespace: "shop",
      body: body<V1Pod>({ metadata: { name: "old-web", labels: { "lameduck.dev/hook": old } }, spec: { containers: [{ name: "web", image: "web" }] } }),
    });
    await runPod(kc, "shop", "old-web", { node: "node-a", ip: "10.1.0.5" });
    const c = await controller({ gcRetryMs: 100 });
    await eventually("the current version", async () => (await names("shop")).includes(`lameduck-hook-${c.distributor.hash}`));
    await c.distributor.idle();
    expect(await names("shop")).toContain(`lameduck-hook-${old}`);
    await core.deleteNamespacedPod({ namespace: "shop", name: "old-web", gracePeriodSeconds: 0 });
    await eventually("the old version gone", async () => !(await names("shop")).includes(`lameduck-hook-${old}`));
    expect(await names("shop")).toEqual([`lameduck-hook-${c.distributor.hash}`]);
    // The question "does any pod still use it" is one limited list per check, never a relist.
    const podLists = api.requests.filter((r) => r.resource === "pods" && r.verb === "list");
    expect(podLists.length).toBeGreaterThan(0);
  });

  it("stands down with --hook-source=image: creates none, says so once, and deletes its old ones once no pod carries them", async () => {
    await createNode(kc, { name: "node-a", ip: "192.168.1.10" });
    await createNamespace("shop");
    await createNamespace("idle");
    const hookDir = fakeHookDir();
    const hooks = await loadHookSet(hookDir);
    // What the distributor left from before the switch: its current version in both namespaces, one
    // of them still mounted by a pod.
    for (const ns of ["shop", "idle"]) await core.createNamespacedConfigMap({ namespace: ns, body: desiredConfigMap(hooks, ns) });
    await core.createNamespacedPod({
      namespace: "shop",
      body: body<V1Pod>({ metadata: { name: "old-web", labels: { "lameduck.dev/hook": hooks.hash } }, spec: { containers: [{ name: "web", image: "web" }] } }),
    });
    await runPod(kc, "shop", "old-web", { node: "node-a", ip: "10.1.0.5" });
    const log = captureLogger();
    const setup = api.requests.length;
    const c = await controller({ hookDir, gcRetryMs: 100, resyncMs: 100, logger: log.logger, args: ["--hook-source=image", "--hook-image=registry.example/lameduck-hook:1"] });
    await eventually("idle's ConfigMap deleted", async () => (await names("idle")).length === 0);
    await createNamespace("new");
    await new Promise((r) => setTimeout(r, 300));
    await c.distributor.idle();
    expect(await names("new")).toEqual([]);
    expect(await names("shop")).toEqual([hooks.configMapName]);
    expect(c.facts.hookConfigMap("shop")).toBeUndefined();
    await core.deleteNamespacedPod({ namespace: "shop", name: "old-web", gracePeriodSeconds: 0 });
    await eventually("shop's ConfigMap deleted", async () => (await names("shop")).length === 0);
    expect(api.requests.slice(setup).filter((r) => r.resource === "configmaps" && r.verb === "create")).toEqual([]);
    expect(log.messages().filter((m) => m.startsWith("hook source is the image"))).toHaveLength(1);
    expect(await c.metric("lameduck_distributor_reconciles_total", { outcome: "error" })).toBe(0);
  });

  it("two replicas at once converge without errors", async () => {
    const hookDir = fakeHookDir();
    const [a, b] = await Promise.all([controller({ hookDir }), controller({ hookDir })]);
    const spaces = Array.from({ length: 20 }, (_, i) => `team-${i}`);
    await Promise.all(spaces.map((ns) => createNamespace(ns)));
    for (const ns of spaces) await eventually(`${ns}'s ConfigMap`, async () => (await names(ns)).length === 1);
    await Promise.all([a.distributor.idle(), b.distributor.idle()]);
    for (const ns of spaces) expect(await names(ns)).toEqual([`lameduck-hook-${a.distributor.hash}`]);
    expect(await a.metric("lameduck_distributor_reconciles_total", { outcome: "error" })).toBe(0);
    expect(await b.metric("lameduck_distributor_reconciles_total", { outcome: "error" })).toBe(0);
    const creates = api.requests.filter((r) => r.resource === "configmaps" && r.verb === "create" && spaces.includes(r.namespace ?? ""));
    expect(creates.filter((r) => r.code === 201)).toHaveLength(spaces.length);
  });

  it("leaves a namespace that is being deleted alone", async () => {
    const c = await controller();
    await createNamespace("leaving");
    await eventually("the ConfigMap", async () => (await names("leaving")).length === 1);
    await core.deleteNamespace({ name: "leaving" });
    await eventually("the namespace gone", async () => core.readNamespace({ name: "leaving" }).then(() => false, () => true));
    await c.distributor.idle();
    const creates = api.requests.filter((r) => r.resource === "configmaps" && r.verb === "create" && r.namespace === "leaving" && r.code === 201);
    expect(creates).toHaveLength(1);
  });
});
