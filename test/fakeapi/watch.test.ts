import { afterAll, beforeAll, expect, it } from "vitest";
import { CoreV1Api, Watch } from "@kubernetes/client-node";
import { createNamespace, deleteNamespace, startCluster, targetsRealCluster } from "../support/cluster.ts";
import type { Cluster } from "../support/cluster.ts";

let cluster: Cluster;
let core: CoreV1Api;
let ns: string;

beforeAll(async () => {
  cluster = await startCluster({ bookmarkIntervalMs: 200 });
  core = cluster.kc.makeApiClient(CoreV1Api);
  ns = await createNamespace(cluster.kc, "fakeapi-watch");
});

afterAll(async () => {
  await deleteNamespace(cluster.kc, ns);
  await cluster.close();
});

interface Seen { type: string; name: string; rv: string; annotations: Record<string, string> }

/** Watches until `until` holds for the events seen (or 10 s pass), then aborts and returns them. */
async function watchEvents(path: string, query: Record<string, string | boolean>, until: (seen: Seen[]) => boolean): Promise<{ seen: Seen[]; ended: boolean }> {
  const seen: Seen[] = [];
  const state = { ended: false };
  let wake = (): void => undefined;
  const changed = (): Promise<void> => new Promise((r) => { wake = r; setTimeout(r, 200); });
  const controller = await new Watch(cluster.kc).watch(path, query, (type, obj: { metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> } }) => {
    seen.push({ type, name: obj.metadata?.name ?? "", rv: obj.metadata?.resourceVersion ?? "", annotations: obj.metadata?.annotations ?? {} });
    wake();
  }, () => { state.ended = true; wake(); });
  const deadline = Date.now() + 10_000;
  while (!until(seen) && !state.ended && Date.now() < deadline) await changed();
  controller.abort();
  return { seen, ended: state.ended };
}

const cm = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels } });

it("a watch without resourceVersion sends the current objects as ADDED, then an initial-events-end BOOKMARK", async () => {
  await core.createNamespacedConfigMap({ namespace: ns, body: cm("w-initial", { w: "initial" }) });
  const { seen } = await watchEvents(`/api/v1/namespaces/${ns}/configmaps`, { allowWatchBookmarks: true, labelSelector: "w=initial" }, (s) => s.some((e) => e.type === "BOOKMARK"));
  expect(seen.map((e) => e.type)).toEqual(["ADDED", "BOOKMARK"]);
  expect(seen[1]?.annotations).toEqual({ "k8s.io/initial-events-end": "true" });
});

it("a watch from a resourceVersion replays every change after it, in order", async () => {
  const first = await core.createNamespacedConfigMap({ namespace: ns, body: cm("w-replay", { w: "replay" }) });
  await core.replaceNamespacedConfigMap({ namespace: ns, name: "w-replay", body: { ...first, data: { a: "1" } } });
  await core.deleteNamespacedConfigMap({ namespace: ns, name: "w-replay" });
  const { seen } = await watchEvents(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: first.metadata?.resourceVersion ?? "", labelSelector: "w=replay" }, (s) => s.length >= 2);
  expect(seen.map((e) => `${e.type} ${e.name}`)).toEqual(["MODIFIED w-replay", "DELETED w-replay"]);
  expect(Number(seen[1]?.rv)).toBeGreaterThan(Number(seen[0]?.rv));
});

it("an object leaving a label selection is seen as DELETED, one entering it as ADDED", async () => {
  const o = await core.createNamespacedConfigMap({ namespace: ns, body: cm("w-move", { w: "in" }) });
  const start = o.metadata?.resourceVersion ?? "";
  const out = await core.replaceNamespacedConfigMap({ namespace: ns, name: "w-move", body: { ...o, metadata: { ...o.metadata, labels: { w: "out" } } } });
  await core.replaceNamespacedConfigMap({ namespace: ns, name: "w-move", body: { ...out, metadata: { ...out.metadata, labels: { w: "in" } } } });
  const { seen } = await watchEvents(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: start, labelSelector: "w=in" }, (s) => s.length >= 2);
  expect(seen.map((e) => e.type)).toEqual(["DELETED", "ADDED"]);
});

it.skipIf(targetsRealCluster())("a watch from a compacted resourceVersion gets a 410 Expired ERROR event and ends [needs the fake's store]", async () => {
  const o = await core.createNamespacedConfigMap({ namespace: ns, body: cm("w-old") });
  cluster.fake?.store.compact();
  const { seen, ended } = await watchEvents(`/api/v1/namespaces/${ns}/configmaps`, { resourceVersion: String(Number(o.metadata?.resourceVersion) - 1) }, () => false);
  expect(seen.map((e) => e.type)).toEqual(["ERROR"]);
  expect(ended).toBe(true);
});

it.skipIf(targetsRealCluster())("bookmarks arrive periodically on an idle watch that allows them [the real interval is a minute]", async () => {
  const { seen } = await watchEvents(`/api/v1/namespaces/${ns}/configmaps`, { allowWatchBookmarks: true, labelSelector: "w=none" }, (s) => s.filter((e) => e.type === "BOOKMARK").length >= 3);
  expect(seen.filter((e) => e.type === "BOOKMARK").length).toBeGreaterThanOrEqual(3);
  expect(seen.some((e) => e.type !== "BOOKMARK")).toBe(false);
});

it("a watch with timeoutSeconds ends by itself", async () => {
  const { ended } = await watchEvents(`/api/v1/namespaces/${ns}/configmaps`, { timeoutSeconds: "1", labelSelector: "w=none" }, () => false);
  expect(ended).toBe(true);
});
