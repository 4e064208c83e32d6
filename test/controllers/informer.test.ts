import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Namespace } from "@kubernetes/client-node";
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { makeInformer } from "../../injector/informers/informer.ts";
import { silentLogger } from "../../injector/log.ts";
import type { FakeApi } from "../fakeapi/index.ts";
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

describe("the restarting informer", () => {
  it("keeps restarting after failed lists with growing, injected delays, and syncs once the API answers", async () => {
    const delays: number[] = [];
    const restarts = restartsCounter();
    api.faults.failShare(1, (r) => r.resource === "namespaces" && r.verb === "list");
    const informer = makeInformer<V1Namespace>(
      { resource: "namespaces", path: "/api/v1/namespaces", list: () => core.listNamespace() },
      {
        kc,
        logger: silentLogger,
        restarts,
        random: () => 0.999_999,
        backoff: { baseMs: 100, maxMs: 1_000 },
        delay: (ms) => {
          delays.push(ms);
          return new Promise((resolve) => setTimeout(resolve, 1));
        },
      },
    );
    started.push(informer);
    informer.start();
    await eventually("five restarts", () => delays.length >= 5);
    expect(informer.hasSynced()).toBe(false);
    expect(delays.slice(0, 5)).toEqual([100, 200, 400, 800, 1000]);
    api.faults.failShare(0);
    await informer.synced();
    expect(informer.get("default")).toBeDefined();
    expect((await restarts.get()).values[0]?.value).toBeGreaterThanOrEqual(5);
  });

  it("caches only objects matching its label selector and follows them after a 410 relist", async () => {
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "shop" } }) });
    const cm = (name: string, labels: Record<string, string>): V1ConfigMap => body<V1ConfigMap>({ metadata: { name, labels }, data: { k: "v" } });
    await core.createNamespacedConfigMap({ namespace: "shop", body: cm("ours", { "app.kubernetes.io/managed-by": "lameduck" }) });
    await core.createNamespacedConfigMap({ namespace: "shop", body: cm("theirs", {}) });
    const selector = "app.kubernetes.io/managed-by=lameduck";
    const informer = makeInformer<V1ConfigMap>(
      { resource: "configmaps", path: "/api/v1/configmaps", labelSelector: selector, list: () => core.listConfigMapForAllNamespaces({ labelSelector: selector }) },
      { kc, logger: silentLogger, restarts: restartsCounter(), delay: () => new Promise((resolve) => setTimeout(resolve, 5)) },
    );
    started.push(informer);
    informer.start();
    await informer.synced();
    expect(informer.list().map((c) => c.metadata?.name)).toEqual(["ours"]);

    api.faults.goneOnNextWatch(2);
    api.faults.dropWatches("close");
    await core.createNamespacedConfigMap({ namespace: "shop", body: cm("ours-2", { "app.kubernetes.io/managed-by": "lameduck" }) });
    await core.deleteNamespacedConfigMap({ namespace: "shop", name: "ours" });
    await eventually("the cache to follow", () => informer.list().map((c) => c.metadata?.name).join() === "ours-2");
    const relists = api.requests.filter((r) => r.resource === "configmaps" && r.verb === "list");
    expect(relists.length).toBeGreaterThanOrEqual(2);
  });
});
