import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Namespace } from "@kubernetes/client-node";
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { makeRawClient, makeTransport } from "../../injector/informers/client.ts";
import { makeInformer, type InformerDeps } from "../../injector/informers/informer.ts";
import { leanConfigMap, leanNamespace } from "../../injector/informers/lean.ts";
import { silentLogger } from "../../injector/log.ts";
import { startFakeApi, type FakeApi } from "../fakeapi/index.ts";
import { body, eventually, withFakeApi } from "./harness.ts";

let api: FakeApi;
let kc: KubeConfig;
let core: CoreV1Api;
const started: { stop(): Promise<void> }[] = [];

withFakeApi(started, (clients) => {
  ({ api, kc, core } = clients);
});

function restartsCounter(): Counter<"resource"> {
  return new Counter({ name: "restarts", help: "test", labelNames: ["resource"] as const, registers: [new Registry()] });
}

function deps(overrides: Partial<InformerDeps> = {}): InformerDeps {
  const transport = makeTransport(kc);
  return { transport, client: makeRawClient(kc, transport), logger: silentLogger, restarts: restartsCounter(), delay: () => new Promise((resolve) => setTimeout(resolve, 5)), ...overrides };
}

const selector = "app.kubernetes.io/managed-by=lameduck";
const cm = (name: string, labels: Record<string, string>, data: Record<string, string> = { k: "v" }): V1ConfigMap => body<V1ConfigMap>({ metadata: { name, labels }, data });

describe("the restarting informer", () => {
  it("keeps restarting after failed lists with growing, injected delays, and syncs once the API answers", async () => {
    const delays: number[] = [];
    const restarts = restartsCounter();
    api.faults.failShare(1, (r) => r.resource === "namespaces" && r.verb === "list");
    const informer = makeInformer(
      { resource: "namespaces", path: "/api/v1/namespaces", transform: leanNamespace },
      deps({
        restarts,
        random: () => 0.999_999,
        backoff: { baseMs: 100, maxMs: 1_000 },
        delay: (ms) => {
          delays.push(ms);
          return new Promise((resolve) => setTimeout(resolve, 1));
        },
      }),
    );
    started.push(informer);
    informer.start();
    await eventually("five restarts", () => delays.length >= 5);
    expect(informer.hasSynced()).toBe(false);
    expect(informer.failingSince()).toBeDefined();
    expect(delays.slice(0, 5)).toEqual([100, 200, 400, 800, 1000]);
    api.faults.failShare(0);
    await informer.synced();
    expect(informer.get("default")).toBeDefined();
    await eventually("watching", () => informer.failingSince() === undefined);
    expect((await restarts.get()).values[0]?.value).toBeGreaterThanOrEqual(5);
  });

  it("caches only objects matching its label selector, as metadata, and follows them after a 410 relist", async () => {
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    await core.createNamespacedConfigMap({ namespace: "shop", body: cm("ours", { "app.kubernetes.io/managed-by": "lameduck", team: "x" }) });
    await core.createNamespacedConfigMap({ namespace: "shop", body: cm("theirs", {}) });
    const raws: unknown[] = [];
    const transform = (raw: unknown): ReturnType<typeof leanConfigMap> => {
      raws.push(raw);
      return leanConfigMap(raw);
    };
    const informer = makeInformer({ resource: "configmaps", path: "/api/v1/configmaps", labelSelector: selector, pageSize: 1, metadataOnly: true, transform }, deps());
    const seen: unknown[] = [];
    informer.onAdd((o) => seen.push(o));
    started.push(informer);
    informer.start();
    await informer.synced();
    expect(informer.list().map((c) => c.metadata.name)).toEqual(["ours"]);
    const cached = informer.get("ours", "shop");
    expect(cached).toEqual({
      metadata: { name: "ours", namespace: "shop", uid: expect.any(String) as unknown, resourceVersion: expect.any(String) as unknown, labels: { "app.kubernetes.io/managed-by": "lameduck" } },
    });

    api.faults.goneOnNextWatch(2);
    api.faults.dropWatches("close");
    await core.createNamespacedConfigMap({ namespace: "shop", body: cm("ours-2", { "app.kubernetes.io/managed-by": "lameduck" }) });
    await core.deleteNamespacedConfigMap({ namespace: "shop", name: "ours" });
    await eventually("the cache to follow", () => informer.list().map((c) => c.metadata.name).join() === "ours-2");
    expect(seen.map((o) => (o as { metadata: { name: string } }).metadata.name)).toEqual(["ours", "ours-2"]);
    // The API sent metadata only, in the list and in the watch: the content never reached the process.
    expect(raws.length).toBeGreaterThanOrEqual(3);
    for (const raw of raws) expect(raw).toMatchObject({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1" });
    expect(raws.some((r) => JSON.stringify(r).includes('"data"'))).toBe(false);
    const relists = api.requests.filter((r) => r.resource === "configmaps" && r.verb === "list");
    expect(relists.length).toBeGreaterThanOrEqual(2);
  });

  it("hands transform the copy it caches under the same namespace and name, so that an update can share it", async () => {
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "mall" } }) });
    const labels = { "app.kubernetes.io/managed-by": "lameduck" };
    await core.createNamespacedConfigMap({ namespace: "shop", body: cm("ours", labels) });
    const given: string[] = [];
    const transform = (raw: unknown, cached?: ReturnType<typeof leanConfigMap>): ReturnType<typeof leanConfigMap> => {
      const lean = leanConfigMap(raw);
      given.push(`${lean?.metadata.namespace ?? ""}/${lean?.metadata.name ?? ""} ${cached === undefined ? "-" : `${cached.metadata.namespace ?? ""}/${cached.metadata.name}`}`);
      return lean;
    };
    const informer = makeInformer({ resource: "configmaps", path: "/api/v1/configmaps", labelSelector: selector, transform }, deps());
    started.push(informer);
    informer.start();
    await informer.synced();
    await eventually("watching", () => informer.failingSince() === undefined);
    await core.createNamespacedConfigMap({ namespace: "mall", body: cm("ours", labels) });
    await core.replaceNamespacedConfigMap({ namespace: "shop", name: "ours", body: cm("ours", labels, { k: "w" }) });
    await eventually("both followed", () => given.length === 3);
    expect(given).toEqual(["shop/ours -", "mall/ours -", "shop/ours shop/ours"]);
  });

  it("lists in pages of its page size", async () => {
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    for (let i = 0; i < 7; i++) await core.createNamespacedConfigMap({ namespace: "shop", body: cm(`ours-${i}`, { "app.kubernetes.io/managed-by": "lameduck" }) });
    const informer = makeInformer({ resource: "configmaps", path: "/api/v1/configmaps", labelSelector: selector, pageSize: 3, transform: leanConfigMap }, deps());
    started.push(informer);
    informer.start();
    await informer.synced();
    expect(informer.list()).toHaveLength(7);
    expect(api.requests.filter((r) => r.resource === "configmaps" && r.verb === "list")).toHaveLength(3);
  });

  it("after the API server comes back with a reset store, a watch it cannot resume relists and drops what is gone", async () => {
    // A server of its own on a fixed port, restarted with an empty store as after an etcd restore.
    const first = await startFakeApi();
    const port = Number(new URL(first.url).port);
    const client = first.kubeConfig();
    const firstCore = client.makeApiClient(CoreV1Api);
    await firstCore.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    // Moves the first store's resourceVersion well past where the second one will be.
    for (let i = 0; i < 20; i++) await firstCore.createNamespacedConfigMap({ namespace: "shop", body: cm(`filler-${i}`, {}) });
    const informer = makeInformer({ resource: "namespaces", path: "/api/v1/namespaces", transform: leanNamespace }, { ...deps(), transport: makeTransport(client), client: makeRawClient(client) });
    started.push(informer);
    informer.start();
    await informer.synced();
    await eventually("watching", () => informer.failingSince() === undefined);
    await first.close();
    const second = await startFakeApi({ port });
    started.push({ stop: () => second.close() });
    await second.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: body<V1Namespace>({ metadata: { name: "other" } }) });
    await eventually("the cache to follow the new store", () => informer.get("shop") === undefined && informer.get("other") !== undefined, 10_000);
    await eventually("watching again", () => informer.failingSince() === undefined);
    // It resumed from its old resourceVersion first, or found the server gone, and relisted.
    expect(second.requests.filter((r) => r.resource === "namespaces" && r.verb === "list").length).toBeGreaterThanOrEqual(1);
  });
});
