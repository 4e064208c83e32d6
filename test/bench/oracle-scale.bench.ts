// The controller at the size of a large cluster: 150,000 endpoints in 15,000 EndpointSlices across
// 2,000 namespaces, each namespace with its hook ConfigMap. Its RSS against the same controller on an
// empty cluster in the same run (so the cost per endpoint), the time to sync, and the release latency
// of a held wait at that size. Then, in this process, what the cache would weigh if it kept the
// slices as client-node's typed list returns them, against the lean form it keeps.
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { loadHookSet } from "../../injector/distributor/hookset.ts";
import { desiredConfigMap } from "../../injector/distributor/reconcile.ts";
import { makeRawClient } from "../../injector/informers/client.ts";
import { leanEndpointSlice, type LeanEndpointSlice } from "../../injector/informers/lean.ts";
import { body, httpGet } from "../controllers/harness.ts";
import { startFakeApi } from "../fakeapi/index.ts";
import { createNode } from "../support/cluster.ts";
import { askUntilReleased, inParallel, metricSum, peakRssMb, percentile, ready, rssMb, spawnController, until, type BenchController } from "./oracle-controller.ts";
import type { BenchReport } from "./report.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const namespaces = 2_000;
const slicesCount = 15_000;
const perSlice = 10;
const endpoints = slicesCount * perSlice;
/** The first slices list real pods, deleted, whose hooks' questions are held and then released. */
const heldSlices = 20;
const held = heldSlices * perSlice;

function nsOf(k: number): string {
  return `team-${k % namespaces}`;
}

/** A slice as the EndpointSlice controller writes it (labels, owner, annotation, zone and all). */
function slice(k: number, uids: readonly string[], terminating = -1): V1EndpointSlice {
  return body<V1EndpointSlice>({
    metadata: {
      name: `svc-${k}-abcde`,
      generateName: `svc-${k}-`,
      labels: { "kubernetes.io/service-name": `svc-${k}`, "endpointslice.kubernetes.io/managed-by": "bench.lameduck.dev" },
      annotations: { "endpoints.kubernetes.io/last-change-trigger-time": "2026-03-01T12:00:00Z" },
      ownerReferences: [{ apiVersion: "v1", kind: "Service", name: `svc-${k}`, uid: `00000000-0000-0000-0000-${String(k).padStart(12, "0")}`, controller: true, blockOwnerDeletion: true }],
    },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: uids.map((uid, e) => ({
      addresses: [`10.${Math.floor(k / 250) % 250}.${k % 250}.${e + 1}`],
      conditions: { ready: e !== terminating, serving: true, terminating: e === terminating },
      nodeName: `node-${k % 50}`,
      zone: `zone-${k % 3}`,
      targetRef: { kind: "Pod", namespace: nsOf(k), name: `p-${k}-${e}`, uid },
    })),
  });
}

/** Heap growth, in MB after a full GC, while what `keep` returns is still held (it is returned). */
async function retainedMb(keep: () => Promise<unknown>): Promise<{ mb: number; kept: unknown }> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = await keep();
  gc();
  return { mb: (process.memoryUsage().heapUsed - before) / 1_048_576, kept };
}

/** The held pods (real, bound, then deleted: they keep a deletionTimestamp, as while a hook runs) and their slices. */
async function heldPods(kc: KubeConfig): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const uids: string[] = [];
  await inParallel(Array.from({ length: heldSlices }, (_, k) => k), 8, async (k) => {
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: nsOf(k) } }) });
  });
  await inParallel(Array.from({ length: held }, (_, i) => i), 32, async (i) => {
    const k = Math.floor(i / perSlice);
    const pod = await core.createNamespacedPod({
      namespace: nsOf(k),
      body: body<V1Pod>({ metadata: { name: `p-${k}-${i % perSlice}` }, spec: { nodeName: "node-0", containers: [{ name: "web", image: "web" }] } }),
    });
    uids[i] = pod.metadata?.uid ?? "";
  });
  await inParallel(Array.from({ length: heldSlices }, (_, k) => k), 8, async (k) => {
    await discovery.createNamespacedEndpointSlice({ namespace: nsOf(k), body: slice(k, uids.slice(k * perSlice, (k + 1) * perSlice)) });
  });
  await inParallel(Array.from({ length: held }, (_, i) => i), 32, async (i) => {
    const k = Math.floor(i / perSlice);
    await core.deleteNamespacedPod({ namespace: nsOf(k), name: `p-${k}-${i % perSlice}`, gracePeriodSeconds: 3_600 });
  });
  return uids;
}

/** The other namespaces with their hook ConfigMaps, and the slices beyond the held ones, listing uids of no pod. */
async function populate(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const hooks = await loadHookSet(join(root, "dist"));
  // The first namespaces got theirs from the baseline controller's distributor.
  await inParallel(Array.from({ length: namespaces - heldSlices }, (_, i) => `team-${i + heldSlices}`), 32, async (name) => {
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name } }) });
    await core.createNamespacedConfigMap({ namespace: name, body: desiredConfigMap(hooks, name) });
  });
  await inParallel(Array.from({ length: slicesCount - heldSlices }, (_, j) => j + heldSlices), 32, async (k) => {
    await discovery.createNamespacedEndpointSlice({ namespace: nsOf(k), body: slice(k, Array.from({ length: perSlice }, (_, e) => `u-${k}-${e}`)) });
  });
}

/** The held slices, every endpoint ready again. */
async function resetHeld(kc: KubeConfig, uids: readonly string[]): Promise<void> {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  for (let k = 0; k < heldSlices; k++) {
    const name = `svc-${k}-abcde`;
    const current = await discovery.readNamespacedEndpointSlice({ namespace: nsOf(k), name });
    const next = slice(k, uids.slice(k * perSlice, (k + 1) * perSlice));
    await discovery.replaceNamespacedEndpointSlice({ namespace: nsOf(k), name, body: { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata?.resourceVersion ?? "" } } });
  }
}

/**
 * Holds a question for each held pod (each from its own address, as each pod's hook comes from its
 * pod's IP), then turns their endpoints terminating one at a time: the time to open them, and per
 * release the slice update's own time and the answer's arrival after its response.
 */
async function releaseLatency(kc: KubeConfig, controller: BenchController, uids: readonly string[], sockets: Set<Socket>): Promise<{ openMs: number; update: number[]; after: number[] }> {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const heldBefore = await metricSum(controller.metricsPort, 'lameduck_oracle_pod_lookups_total{result="deleting"}');
  const answers = new Map<string, Promise<{ body: string; at: number }>>();
  const openStart = performance.now();
  uids.forEach((uid, i) => answers.set(uid, askUntilReleased(controller.oraclePort, uid, sockets, `127.2.0.${i + 1}`)));
  await until(
    `${held} held waits`,
    async () => (await metricSum(controller.metricsPort, "lameduck_oracle_active_waits")) >= held && (await metricSum(controller.metricsPort, 'lameduck_oracle_pod_lookups_total{result="deleting"}')) - heldBefore >= held,
    60_000,
    50,
  );
  const openMs = performance.now() - openStart;
  const update: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < held; i++) {
    const k = Math.floor(i / perSlice);
    const name = `svc-${k}-abcde`;
    const current = await discovery.readNamespacedEndpointSlice({ namespace: nsOf(k), name });
    // This endpoint turns terminating; the ones before it in the slice already are.
    const next = slice(k, uids.slice(k * perSlice, (k + 1) * perSlice), i % perSlice);
    next.endpoints = (next.endpoints ?? []).map((ep, e) => (e < i % perSlice ? { ...ep, conditions: { ready: false, serving: true, terminating: true } } : ep));
    const t0 = performance.now();
    await discovery.replaceNamespacedEndpointSlice({ namespace: nsOf(k), name, body: { ...next, metadata: { ...next.metadata, resourceVersion: current.metadata?.resourceVersion ?? "" } } });
    const t1 = performance.now();
    const answer = await (answers.get(uids[i] ?? "") ?? Promise.reject(new Error(`no wait for ${uids[i] ?? ""}`)));
    if (!answer.body.startsWith("drained")) throw new Error(`bench: ${uids[i] ?? ""} answered ${answer.body}`);
    update.push(t1 - t0);
    after.push(Math.max(0, answer.at - t1));
  }
  return { openMs, update: update.sort((a, b) => a - b), after: after.sort((a, b) => a - b) };
}

/** Ready, and the distributor's first pass over every namespace done (it reads each namespace's ConfigMap once). */
async function settled(c: BenchController, reconciles: number, timeoutMs: number): Promise<void> {
  await until(
    "the distributor's first pass",
    async () => (await metricSum(c.metricsPort, "lameduck_distributor_reconciles_total")) >= reconciles && (await metricSum(c.metricsPort, "lameduck_distributor_queue_depth")) === 0,
    timeoutMs,
    200,
  );
}

export async function run(report: BenchReport): Promise<void> {
  report.section("Controller at 150,000 endpoints in 15,000 slices, 2,000 namespaces (child process)");
  const api = await startFakeApi({ historySize: 100_000 });
  const kc = api.kubeConfig();
  const running: BenchController[] = [];
  const sockets = new Set<Socket>();
  try {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: body<V1Namespace>({ metadata: { name: "lameduck-system" } }) });
    for (let n = 0; n < 50; n++) await createNode(kc, { name: `node-${n}`, ip: `192.168.${Math.floor(n / 250)}.${(n % 250) + 1}` });
    const uids = await heldPods(kc);

    // Baseline: the same controller with only the held pods' 200 endpoints.
    const base = await spawnController(api.kubeconfigYaml());
    running.push(base);
    await ready(base, 60_000);
    await settled(base, heldSlices, 60_000);
    await sleep(3_000);
    const baseRss = rssMb(base.pid);
    const baseLatency = await releaseLatency(kc, base, uids, sockets);
    report.row(`baseline: RSS with ${held} endpoints in ${heldSlices} namespaces`, Math.round(baseRss), "MB");
    await base.stop();
    await resetHeld(kc, uids);

    const setup = performance.now();
    await populate(kc);
    report.row("setting up the rest in the fake API (not the controller)", Math.round((performance.now() - setup) / 1000), "s");

    const t0 = performance.now();
    const controller = await spawnController(api.kubeconfigYaml());
    running.push(controller);
    await ready(controller, 300_000);
    const readyMs = performance.now() - t0;
    await settled(controller, namespaces, 300_000);
    const settledMs = performance.now() - t0;
    report.row("time to sync: start → ready (every cache listed and watching)", Math.round(readyMs), "ms");
    report.row("  → every namespace's hook ConfigMap read and judged (2,000 GETs)", Math.round(settledMs), "ms");
    await sleep(3_000);
    const rss = rssMb(controller.pid);
    report.row("RSS with 150,000 endpoints, settled", Math.round(rss), "MB", { target: 1024, ratio: rss / baseRss, baseline: `${held} endpoints` });
    report.row("cost per endpoint (RSS over the baseline's, all caches included)", Math.round(((rss - baseRss) * 1_048_576) / (endpoints - held)), "bytes");
    const latency = await releaseLatency(kc, controller, uids, sockets);
    report.row(`time to open ${held} held waits (a pod lookup each)`, Math.round(latency.openMs), "ms", { ratio: latency.openMs / baseLatency.openMs, baseline: `${held} endpoints` });
    const p = (xs: readonly number[], q: number): number => percentile(xs, q);
    report.row("release latency p50: the slice update's response → the answer", p(latency.after, 50), "ms", { ratio: p(latency.after, 50) / p(baseLatency.after, 50), baseline: `${held} endpoints` });
    report.row("release latency p99: the slice update's response → the answer", p(latency.after, 99), "ms", { ratio: p(latency.after, 99) / p(baseLatency.after, 99), baseline: `${held} endpoints` });
    report.row("  the fake API's slice update itself, p50 / baseline's", p(latency.update, 50), "ms", { ratio: p(latency.update, 50) / p(baseLatency.update, 50), baseline: `${held} endpoints` });
    report.row("peak RSS over all of it", Math.round(peakRssMb(controller.pid)), "MB", { target: 1024 });
    report.row("ready after all that", (await httpGet(controller.metricsPort, "/readyz")).startsWith("200") ? 1 : 0, "yes", { pass: true });
    await controller.stop();
    // What the slices weigh in a heap, kept as the typed list returns them and as the cache keeps them.
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const typed = await retainedMb(async () => {
      const all: V1EndpointSlice[] = [];
      let cont: string | undefined;
      do {
        const page = await discovery.listEndpointSliceForAllNamespaces({ limit: 500, ...(cont === undefined ? {} : { _continue: cont }) });
        all.push(...page.items);
        cont = page.metadata?._continue;
      } while (cont !== undefined && cont !== "");
      return all;
    });
    const raw = makeRawClient(kc);
    const lean = await retainedMb(async () => {
      const all: LeanEndpointSlice[] = [];
      let cont = "";
      do {
        const page = await raw.listPage("/apis/discovery.k8s.io/v1/endpointslices", { limit: 500, continueToken: cont });
        for (const item of page.items) {
          const l = leanEndpointSlice(item);
          if (l !== undefined) all.push(l);
        }
        cont = page.continueToken;
      } while (cont !== "");
      return all;
    });
    report.row("150,000 endpoints as client-node's typed list keeps them (heap)", Math.round(typed.mb), "MB");
    report.row("150,000 endpoints as the cache keeps them (heap)", Math.round(lean.mb), "MB", { ratio: lean.mb / typed.mb, baseline: "typed" });
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all(running.map((c) => c.stop()));
    await api.close();
  }
}
