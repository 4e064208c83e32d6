// The API server for webhook.bench.ts, in a process of its own: its work (streaming 10,000
// EndpointSlice updates to the controller) must not run on the load generator's event loop, where
// it would show up as review latency. Seeds what a realistic review needs (the review's namespace, a
// node's architecture) and 100 EndpointSlices of 100 ready endpoints, pods that exist and are being
// deleted (the oracle looks each asked-about pod up, and holds its question only for a pod being
// deleted). Sends {kubeconfig, uids} once ready, uids[s * perSlice + e] the uid of pod-<s>-<e>.
// On {kind: "burst", updates} it replaces the slices round-robin that many times, each a new version
// the controller's informer receives whole, yielding every 50 so its watch streams flush as a real
// API server's do, and answers {kind: "burst-done", ms}. {kind: "prepare-burst", updates} does the
// same with the watches' events held back and answers {kind: "burst-prepared", ms};
// {kind: "release-burst"} then sends them all at once and answers {kind: "burst-released", ms} when
// every one has been handed to its connection (what webhook.bench.ts uses).
import { writeFileSync } from "node:fs";
import { CoreV1Api } from "@kubernetes/client-node";
import { startFakeApi } from "../fakeapi/index.ts";
import { Res } from "../fakeapi/resources.ts";

export const slicesCount = 100;
export const perSlice = 100;
export const benchNamespace = "bench";

export type ClusterMessage =
  | { readonly kind: "ready"; readonly kubeconfig: string; readonly uids: readonly string[] }
  | { readonly kind: "burst-done"; readonly ms: number }
  | { readonly kind: "burst-prepared"; readonly ms: number }
  | { readonly kind: "burst-released"; readonly ms: number };

/**
 * EndpointSlice bench-<s> of `perSlice` ready endpoints for pods pod-<s>-<e> in `namespace` (a Service
 * without selector named bench): the one the webhook and oracle benches both hold waits against.
 */
export function benchSlice(s: number, namespace: string, uidOf: (s: number, e: number) => string) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `bench-${s}`, namespace, labels: { "kubernetes.io/service-name": "bench" } },
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: Array.from({ length: perSlice }, (_, e) => ({
      addresses: [`10.${Math.floor(s / 250)}.${s % 250}.${e + 1}`],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: "node-a",
      targetRef: { kind: "Pod", namespace, name: `pod-${s}-${e}`, uid: uidOf(s, e) },
    })),
  };
}

async function main(): Promise<void> {
  const kubeconfigFile = process.argv[2];
  if (kubeconfigFile === undefined) throw new Error("usage: webhook-cluster.ts KUBECONFIG_OUT");
  const api = await startFakeApi();
  writeFileSync(kubeconfigFile, api.kubeconfigYaml());
  const core = api.kubeConfig().makeApiClient(CoreV1Api);
  for (const name of ["lameduck-system", "rec-admission", benchNamespace]) await core.createNamespace({ body: { metadata: { name } } });
  await core.createNode({ body: { metadata: { name: "node-a", labels: { "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux" } }, status: { addresses: [{ type: "InternalIP", address: "192.168.1.10" }] } } });
  const uids: string[] = [];
  for (let s = 0; s < slicesCount; s++) {
    for (let e = 0; e < perSlice; e++) {
      const name = `pod-${s}-${e}`;
      const pod = await core.createNamespacedPod({ namespace: benchNamespace, body: { metadata: { name }, spec: { nodeName: "node-a", containers: [{ name: "web", image: "web" }] } } });
      await core.deleteNamespacedPod({ namespace: benchNamespace, name, gracePeriodSeconds: 600 });
      uids.push(pod.metadata?.uid ?? "");
    }
  }
  for (let s = 0; s < slicesCount; s++) api.store.create(Res.endpointslices, benchSlice(s, benchNamespace, (i, e) => uids[i * perSlice + e] ?? ""));

  process.on("message", (message: { kind: string; updates?: number }) => {
    if (message.kind === "release-burst") {
      const started = performance.now();
      void api.faults.releaseWatchEvents().then(() => process.send?.({ kind: "burst-released", ms: performance.now() - started } satisfies ClusterMessage));
      return;
    }
    if (message.kind === "prepare-burst") api.faults.holdWatchEvents();
    else if (message.kind !== "burst") return;
    const updates = message.updates ?? 0;
    const started = performance.now();
    let done = 0;
    const step = (): void => {
      for (let i = 0; i < 50 && done < updates; i++, done++) {
        const s = done % slicesCount;
        const current = api.store.get(Res.endpointslices, benchNamespace, `bench-${s}`);
        if (current === undefined) throw new Error(`bench-${s} is gone`);
        const metadata = current["metadata"] as Record<string, unknown>;
        // A new version with the same endpoints: the oracle recomputes the slice's pods, none changes state.
        api.store.replace(Res.endpointslices, { ...current, metadata: { ...metadata, annotations: { "bench/update": String(done) } } });
      }
      if (done < updates) setImmediate(step);
      else process.send?.({ kind: message.kind === "burst" ? "burst-done" : "burst-prepared", ms: performance.now() - started } satisfies ClusterMessage);
    };
    step();
  });
  // Never outlive the bench that forked this process.
  process.once("disconnect", () => {
    void api.close().then(() => process.exit(0));
  });
  process.once("SIGTERM", () => {
    void api.close().then(() => process.exit(0));
  });
  process.send?.({ kind: "ready", kubeconfig: kubeconfigFile, uids } satisfies ClusterMessage);
}

// Run as a process of its own; imported (for its constants and types) it does nothing.
if (process.argv[1] === import.meta.filename) await main();
