// Drain oracle and distributor under load. The controller runs as the built bundle
// (dist/lameduck.mjs run) in a child process, so its RSS is its own; the fake API server and the
// 10,000 clients run here. Each client is a raw TCP socket speaking the hook's protocol, so this
// process stays light. Needs `ulimit -n` ≥ ~10,500 in both processes (the machine's default here
// is 20,000; the bench checks and says so).
import type { Socket } from "node:net";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, DiscoveryV1Api, V1EndpointConditions, type V1EndpointSlice, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { startFakeApi } from "../fakeapi/index.ts";
import { body, httpGet } from "../controllers/harness.ts";
import { imageNodeFlags } from "./image.ts";
import { benchSlice, perSlice, slicesCount } from "./webhook-cluster.ts";
import { askUntilReleased, inParallel, metricSum, percentile, rssMb, spawnController, until, type BenchController } from "./oracle-controller.ts";
import type { BenchReport } from "./report.ts";

const waits = slicesCount * perSlice;
const latencySamples = 500;
const namespaces = 1000;
/** The controller runs with a short shutdown delay; the SIGTERM row reports the time beyond it. */
const shutdownDelayMs = 1000;

function terminating(): V1EndpointConditions {
  return Object.assign(new V1EndpointConditions(), { ready: false, serving: true, terminating: true });
}

interface Held {
  readonly uid: string;
  readonly answered: Promise<{ body: string; at: number }>;
}

export async function run(report: BenchReport): Promise<void> {
  report.section("Drain oracle and distributor (controller in a child process, fake API here)");
  // Shared machines make tail latencies noisy; the load is printed beside them.
  report.row("load average (1 min) at start", loadavg()[0] ?? 0, "");
  report.row(`controller node flags (from the Dockerfile): ${imageNodeFlags().join(" ") || "none"}`, imageNodeFlags().length, "flags");
  const api = await startFakeApi();
  const kc = api.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  let child: BenchController | undefined;
  const sockets = new Set<Socket>();
  try {
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "bench" } }) });
    await core.createNamespace({ body: body<V1Namespace>({ metadata: { name: "lameduck-system" } }) });
    // 10,000 pods, bound and then deleted: they keep a deletionTimestamp, as while their hooks run,
    // so the oracle's lookup of each says "being deleted" and it holds their questions.
    const uids = new Map<string, string>();
    const keys = Array.from({ length: waits }, (_, i) => `${Math.floor(i / perSlice)}-${i % perSlice}`);
    await inParallel(keys, 32, async (key) => {
      const pod = await core.createNamespacedPod({ namespace: "bench", body: body<V1Pod>({ metadata: { name: `pod-${key}` }, spec: { nodeName: "node-a", containers: [{ name: "web", image: "web" }] } }) });
      uids.set(key, pod.metadata?.uid ?? "");
    });
    await inParallel(keys, 32, async (key) => {
      await core.deleteNamespacedPod({ namespace: "bench", name: `pod-${key}`, gracePeriodSeconds: 600 });
    });
    const uidOf = (s: number, e: number): string => uids.get(`${s}-${e}`) ?? "";
    // Slices written directly (a Service without selector): 100 slices of 100 endpoints.
    const slices: V1EndpointSlice[] = [];
    for (let s = 0; s < slicesCount; s++) {
      slices.push(
        await discovery.createNamespacedEndpointSlice({
          namespace: "bench",
          body: body<V1EndpointSlice>(benchSlice(s, "bench", uidOf)),
        }),
      );
    }

    child = await spawnController(api.kubeconfigYaml(), [`--shutdown-delay=${shutdownDelayMs}ms`]);
    const controller = child;
    const { pid, oraclePort, metricsPort } = controller;
    await until("the controller to be ready", async () => (await httpGet(metricsPort, "/readyz").catch(() => "")).startsWith("200"), 30_000, 100);
    await until("the oracle to see the slices", async () => (await httpGet(oraclePort, `/v1/pods/${uidOf(99, 99)}/drain`)).startsWith("200 serving"), 10_000);
    const idleRss = rssMb(pid);

    // 10,000 held waits, opened in batches so the listen backlog is never the bottleneck.
    const held = new Map<string, Held>();
    const openStart = performance.now();
    for (let s = 0; s < slicesCount; s++) {
      for (let e = 0; e < perSlice; e++) {
        const uid = uidOf(s, e);
        // Each from its own address, as each pod's hook comes from its pod's IP.
        held.set(`${s}-${e}`, { uid, answered: askUntilReleased(oraclePort, uid, sockets, `127.1.${s}.${e + 1}`) });
      }
      if (s % 10 === 9) await sleep(5);
    }
    // Held, and each pod looked up once (the lookups are what the first answers wait for).
    await until(
      `${waits} held waits`,
      async () => (await metricSum(metricsPort, "lameduck_oracle_active_waits")) >= waits && (await metricSum(metricsPort, 'lameduck_oracle_pod_lookups_total{result="deleting"}')) >= waits,
      120_000,
      100,
    );
    const openMs = performance.now() - openStart;
    const heldCount = await metricSum(metricsPort, "lameduck_oracle_active_waits");
    const heldRss = rssMb(pid);
    report.row("controller RSS, idle with 10,000 endpoints", Math.round(idleRss), "MB");
    report.row("concurrent waits held", heldCount, "waits", { target: waits, higherIsBetter: true });
    report.row("controller RSS as the 10,000th wait arrives", Math.round(heldRss), "MB");
    report.row("time to open 10,000 waits (a pod lookup each, 32 at a time)", Math.round(openMs), "ms");

    // Steady state first: the first scavenges after 10,000 connections arrived copy and promote
    // their objects (measured with --trace-gc: two pauses of 40-55 ms, once). Waits spread out in
    // a real rollout; the release latency below is the steady-state figure.
    await sleep(3_000);
    report.row("controller RSS with 10,000 waits held, 3 s later", Math.round(rssMb(pid)), "MB", { target: 300 });
    // What of it is the JavaScript heap (live and not yet collected), and what lies outside it
    // (sockets, buffers, the HTTP parsers of the held requests).
    report.row("  of which the V8 heap in use (live or not yet collected)", mib(await metricSum(metricsPort, "nodejs_heap_size_used_bytes")), "MB");
    report.row("  the V8 heap's size", mib(await metricSum(metricsPort, "nodejs_heap_size_total_bytes")), "MB");

    // Release latency: one endpoint turns terminating; from the update request to the answer.
    const firstDrain = performance.now();
    const latencies: number[] = [];
    // The split: the fake API's own update (it runs in this process) and the answer's arrival
    // after the update's response (the watch event usually reaches the controller before it).
    const apiPart: number[] = [];
    const afterUpdate: number[] = [];
    for (let k = 0; k < latencySamples; k++) {
      const s = k % slicesCount;
      const e = Math.floor(k / slicesCount);
      const slice = slices[s];
      const endpoint = slice?.endpoints?.[e];
      const waiter = held.get(`${s}-${e}`);
      if (slice === undefined || endpoint === undefined || waiter === undefined) throw new Error(`bench: no endpoint ${s}/${e}`);
      endpoint.conditions = terminating();
      const t0 = performance.now();
      slices[s] = await discovery.replaceNamespacedEndpointSlice({ namespace: "bench", name: `bench-${s}`, body: slice });
      const updated = performance.now();
      const answer = await waiter.answered;
      apiPart.push(updated - t0);
      afterUpdate.push(answer.at - updated);
      if (!answer.body.startsWith("drained")) throw new Error(`bench: ${waiter.uid} answered ${answer.body}`);
      latencies.push(answer.at - t0);
    }
    latencies.sort((a, b) => a - b);
    report.row("release latency p50 (slice update → answer)", percentile(latencies, 50), "ms");
    report.row("release latency p90 (slice update → answer)", percentile(latencies, 90), "ms");
    report.row("release latency p99 (slice update → answer)", percentile(latencies, 99), "ms", { target: 20 });
    report.row("release latency max (slice update → answer)", percentile(latencies, 100), "ms");
    apiPart.sort((a, b) => a - b);
    afterUpdate.sort((a, b) => a - b);
    report.row("  of which the API's update, p50", percentile(apiPart, 50), "ms");
    report.row("  of which the API's update, p99", percentile(apiPart, 99), "ms");
    report.row("  answer after the update's response, p50", percentile(afterUpdate, 50), "ms");
    report.row("  answer after the update's response, p99", percentile(afterUpdate, 99), "ms");

    // Every remaining hook released at once: all slices turn terminating together.
    const remaining = [...held.entries()].filter(([key]) => {
      const [s = "0", e = "0"] = key.split("-");
      return Number(s) + Number(e) * slicesCount >= latencySamples;
    });
    const massStart = performance.now();
    await Promise.all(
      slices.map(async (slice, s) => {
        for (const endpoint of slice.endpoints ?? []) endpoint.conditions = terminating();
        slices[s] = await discovery.replaceNamespacedEndpointSlice({ namespace: "bench", name: `bench-${s}`, body: slice });
      }),
    );
    const answers = await Promise.all(remaining.map(([, h]) => h.answered));
    const massMs = Math.max(...answers.map((a) => a.at)) - massStart;
    const drained = answers.filter((a) => a.body.startsWith("drained")).length;
    report.row(`${remaining.length} waits released at once: last answer`, Math.round(massMs), "ms");
    report.row("of those answered drained", drained, "answers", { target: remaining.length, higherIsBetter: true });
    // 10,000 pods drained within seconds: the Event rate limit (10/s, burst 50) must hold.
    const recorded = await metricSum(metricsPort, 'lameduck_oracle_events_total{outcome="recorded"}');
    const failed = await metricSum(metricsPort, 'lameduck_oracle_events_total{outcome="failed"}');
    const dropped = await metricSum(metricsPort, 'lameduck_oracle_events_total{outcome="dropped"}');
    const allowed = 50 + 10 * ((performance.now() - firstDrain) / 1000) + 1;
    report.row("OutOfRotation Events recorded (rest dropped by the limit)", recorded, "events", { pass: recorded + failed <= allowed && dropped > 0 });
    report.row("OutOfRotation Events dropped by the limit", dropped, "events");

    // Distributor: 1,000 new namespaces until each holds its ConfigMap.
    await until("the distributor to settle", async () => (await metricSum(metricsPort, "lameduck_distributor_queue_depth")) === 0, 10_000, 50);
    // One namespace at a time (the usual case): from its creation to its ConfigMap.
    const single: number[] = [];
    for (let i = 0; i < 10; i++) {
      const name = `solo-${i}`;
      const seen = api.requests.length;
      await core.createNamespace({ body: body<V1Namespace>({ metadata: { name } }) });
      const t0 = performance.now();
      await until(`${name}'s ConfigMap`, () => api.requests.slice(seen).some((r) => r.resource === "configmaps" && r.verb === "create" && r.code === 201 && r.namespace === name), 10_000, 2);
      single.push(performance.now() - t0);
    }
    single.sort((a, b) => a - b);
    report.row("a new namespace → its ConfigMap, max of 10", percentile(single, 100), "ms", { target: 1000 });

    await until("the distributor to settle", async () => (await metricSum(metricsPort, "lameduck_distributor_queue_depth")) === 0, 10_000, 50);
    const requestsBefore = await metricSum(metricsPort, "lameduck_distributor_api_requests_total");
    const reconcilesBefore = await metricSum(metricsPort, "lameduck_distributor_reconciles_total");
    const convergeStart = performance.now();
    const names = Array.from({ length: namespaces }, (_, i) => `team-${i}`);
    const createdAt = new Map<string, number>();
    const configMapAt = new Map<string, number>();
    // Watched through the fake's request log, not by listing: a list of 1,000 hook ConfigMaps is
    // 65 MB of JSON and would load the API server more than the distributor does.
    let scanned = api.requests.length;
    const scan = (): void => {
      const now = performance.now();
      for (; scanned < api.requests.length; scanned++) {
        const r = api.requests[scanned];
        if (r?.resource === "configmaps" && r.verb === "create" && r.code === 201 && (r.namespace ?? "").startsWith("team-")) configMapAt.set(r.namespace ?? "", now);
      }
    };
    const scanner = setInterval(scan, 5);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map(async (name) => {
          await core.createNamespace({ body: body<V1Namespace>({ metadata: { name } }) });
          createdAt.set(name, performance.now());
        }),
      );
    }
    const createdMs = performance.now() - convergeStart;
    await until("1,000 ConfigMaps", () => configMapAt.size === namespaces, 60_000, 10);
    clearInterval(scanner);
    const perNamespace = names.map((n) => (configMapAt.get(n) ?? Number.NaN) - (createdAt.get(n) ?? Number.NaN)).sort((a, b) => a - b);
    const convergeS = (performance.now() - convergeStart) / 1000;
    await until("the distributor to settle", async () => (await metricSum(metricsPort, "lameduck_distributor_queue_depth")) === 0, 10_000, 50);
    const requests = (await metricSum(metricsPort, "lameduck_distributor_api_requests_total")) - requestsBefore;
    const reconciles = (await metricSum(metricsPort, "lameduck_distributor_reconciles_total")) - reconcilesBefore;
    report.row("1,000 namespaces converged (first create → last ConfigMap)", convergeS, "s", { target: 10 });
    report.row("  of which creating the namespaces took", createdMs / 1000, "s");
    report.row("  a namespace of the burst → its ConfigMap, p50", percentile(perNamespace, 50), "ms");
    report.row("  a namespace of the burst → its ConfigMap, max", percentile(perNamespace, 100), "ms");
    report.row("distributor API requests for 1,000 namespaces", requests, "requests", { target: namespaces, pass: requests <= namespaces * 1.05 });
    report.row("distributor reconciles for 1,000 namespaces", reconciles, "reconciles");

    // Graceful shutdown with nothing held: how long SIGTERM takes beyond the shutdown delay.
    const stopStart = performance.now();
    const code = await controller.stop();
    report.row("SIGTERM → exit, beyond the shutdown delay", Math.round(performance.now() - stopStart - shutdownDelayMs), "ms", { pass: code === 0 });
  } finally {
    for (const s of sockets) s.destroy();
    if (child !== undefined && child.child.exitCode === null) child.child.kill("SIGKILL");
    await api.close();
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 1_048_576);
}
