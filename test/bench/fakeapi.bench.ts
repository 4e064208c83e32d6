// The fake API server under the load of a large cluster: 10,000 pods created, listed, watched and
// synced into a client-node informer, all through @kubernetes/client-node on loopback.
import { CoreV1Api, makeInformer, Watch } from "@kubernetes/client-node";
import type { V1Pod } from "@kubernetes/client-node";
import { startFakeApi } from "../fakeapi/index.ts";
import type { BenchReport } from "./report.ts";

const count = 10_000;
const concurrency = 32;

function pod(i: number): V1Pod {
  return {
    metadata: { name: `web-${String(i).padStart(5, "0")}`, labels: { app: "web", shard: String(i % 10) } },
    spec: { containers: [{ name: "web", image: "registry.example.invalid/web:1.0", ports: [{ name: "http", containerPort: 8080 }],
      readinessProbe: { httpGet: { path: "/healthz", port: "http" } }, resources: { requests: { cpu: "10m", memory: "16Mi" } } }] },
  };
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

export async function run(report: BenchReport): Promise<void> {
  report.section("fake API server: 10,000 pods through client-node");
  const fake = await startFakeApi();
  try {
    const kc = fake.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "bench" } } });
    const before = fake.store.currentRv();

    const create = await timed(async () => {
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++;
          await core.createNamespacedPod({ namespace: "bench", body: pod(i) });
        }
      }));
    });
    report.row(`create ${String(count)} pods (${String(concurrency)} in flight)`, create, "ms");

    let listed = 0;
    const list = await timed(async () => {
      listed = (await core.listNamespacedPod({ namespace: "bench" })).items.length;
    });
    if (listed !== count) throw new Error(`listed ${String(listed)} pods, expected ${String(count)}`);
    report.row(`list ${String(count)} pods`, list, "ms", { target: 2000 });
    // The same list as raw JSON: what the server itself costs, without client-node's decoding.
    let bytes = 0;
    const raw = await timed(async () => {
      bytes = (await (await fetch(`${fake.url}/api/v1/namespaces/bench/pods`)).arrayBuffer()).byteLength;
    });
    report.row(`list ${String(count)} pods, raw HTTP (${(bytes / 1e6).toFixed(1)} MB)`, raw, "ms");

    const watch = await timed(() => new Promise<void>((resolve, reject) => {
      let seen = 0;
      let controller: AbortController | undefined;
      new Watch(kc).watch("/api/v1/namespaces/bench/pods", { resourceVersion: String(before) }, (type) => {
        if (type === "ADDED") seen += 1;
        if (seen === count) {
          controller?.abort();
          resolve();
        }
      }, (err: unknown) => { if (seen < count) reject(new Error(`watch ended after ${String(seen)} events: ${String(err)}`)); })
        .then((c) => { controller = c; }, reject);
    }));
    report.row(`watch ${String(count)} ADDED events from a resourceVersion`, watch, "ms", { target: 2000 });

    const informer = makeInformer<V1Pod>(kc, "/api/v1/namespaces/bench/pods", () => core.listNamespacedPod({ namespace: "bench" }));
    const sync = await timed(async () => {
      await informer.start();
      const deadline = Date.now() + 60_000;
      while (informer.list().length < count) {
        if (Date.now() > deadline) throw new Error("informer did not sync within 60 s");
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    await informer.stop();
    report.row(`informer initial sync of ${String(count)} pods (list + watch)`, sync, "ms", { target: 2000 });
    // The same creates over raw keep-alive HTTP: client-node opens a new connection per request,
    // so the difference is the client's, not the server's.
    await core.createNamespace({ body: { metadata: { name: "bench-raw" } } });
    const rawCreate = await timed(async () => {
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++;
          const res = await fetch(`${fake.url}/api/v1/namespaces/bench-raw/pods`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(pod(i)) });
          if (res.status !== 201) throw new Error(`create answered ${String(res.status)}`);
          await res.arrayBuffer();
        }
      }));
    });
    report.row(`create ${String(count)} pods, raw keep-alive HTTP`, rawCreate, "ms");
  } finally {
    await fake.close();
  }
}
