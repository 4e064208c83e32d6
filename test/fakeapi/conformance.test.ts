// Replays the scenario behind each recorded EndpointSlice stream (test/fixtures/real/endpointslice-*)
// against the cluster under test and compares the streams, normalising what differs between runs:
// uids, resourceVersions, timestamps, generated names, the namespace and node names. managedFields
// are dropped (the fake does not track field ownership; nothing in lameduck reads them). So is the
// `endpoints.kubernetes.io/last-change-trigger-time` annotation: the controller writes it only when
// a pod's Ready transition is later than the last one it saw, at one-second precision, so whether
// it is there depends on how the replay's status writes fall across second boundaries (the v1.36.2
// run had none where the slower recordings have it). lameduck does not read it; the tracker's rule
// is tested with fixed timestamps in endpointslices.test.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, Watch } from "@kubernetes/client-node";
import { createNamespace, createNode, deleteNamespace, finishPod, runPod, setPodReady, startCluster } from "../support/cluster.ts";
import type { Cluster } from "../support/cluster.ts";

const fixtures = join(import.meta.dirname, "..", "fixtures", "real");
const cases = ["clusterip", "publishnotready", "headless", "clusterip-kubelet-unready"] as const;
const triggerTime = "endpoints.kubernetes.io/last-change-trigger-time";

type Json = Record<string, unknown>;
interface Action { t: number; action: string; pod?: string; node?: string; ip?: string }
interface Event { type: string; object: Json }

function jsonl<T>(file: string): T[] {
  return readFileSync(join(fixtures, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as T);
}

// Actions the recorder took that each produced exactly one slice event (bindings and the log lines
// after a call produce none).
const eventful = new Set(["service-and-deployment-created", "status-running-notready", "status-ready", "delete-grace30-call", "status-notready-while-terminating", "delete-grace0-call"]);

/** Keeps the initial BOOKMARK and every non-BOOKMARK event: periodic bookmarks come at arbitrary times. */
function kept(events: readonly Event[]): Event[] {
  return events.filter((e, i) => e.type !== "BOOKMARK" || i === 0);
}

function normalise(events: readonly Event[], nodes: Record<string, string>): unknown[] {
  const ids = new Map<string, string>();
  const id = (kind: string, v: unknown): string => {
    const key = `${kind}:${String(v)}`;
    let out = ids.get(key);
    if (out === undefined) {
      out = `${kind}-${String([...ids.keys()].filter((k) => k.startsWith(`${kind}:`)).length + 1)}`;
      ids.set(key, out);
    }
    return out;
  };
  const walk = (v: unknown, key: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (typeof v !== "object" || v === null) {
      switch (key) {
        case "uid": return id("uid", v);
        case "resourceVersion": return "RV";
        case "creationTimestamp": return "TS";
        case "namespace": return "NS";
        case "nodeName": return nodes[String(v)] ?? v;
        default: return v;
      }
    }
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "managedFields") continue;
      if (k === "annotations" && key === "metadata") {
        const rest = Object.fromEntries(Object.entries(x as Json).filter(([a]) => a !== triggerTime));
        if (Object.keys(rest).length > 0) out[k] = walk(rest, k);
        continue;
      }
      out[k] = walk(x, k);
    }
    const o = v as Json;
    if (key === "metadata" && typeof o["name"] === "string") out["name"] = id("slice", o["name"]);
    if (key === "targetRef" && typeof o["name"] === "string") out["name"] = id("pod", o["name"]);
    return out;
  };
  return events.map((e) => ({ type: e.type, object: walk(e.object, "") }));
}

let cluster: Cluster;
let core: CoreV1Api;
const run = String(process.pid);

beforeAll(async () => {
  cluster = await startCluster();
  core = cluster.kc.makeApiClient(CoreV1Api);
  for (const n of ["a", "b", "c"]) await createNode(cluster.kc, { name: `conf-${run}-node-${n}`, ip: `192.0.2.${String(n.charCodeAt(0))}`, zone: `zone-${n}` });
});

afterAll(async () => {
  for (const n of ["a", "b", "c"]) await core.deleteNode({ name: `conf-${run}-node-${n}` }).catch(() => undefined);
  await cluster.close();
});

describe.each(cases)("the %s recording", (name) => {
  it("is reproduced event for event", async () => {
    const actions = jsonl<Action>(`endpointslice-${name}.actions.jsonl`);
    const recorded = kept(jsonl<Event>(`endpointslice-${name}.jsonl`));
    const nodeNames: Record<string, string> = {};
    for (const n of ["a", "b", "c"]) nodeNames[`conf-${run}-node-${n}`] = `node-${n}`;
    const ns = await createNamespace(cluster.kc, `conf-${name}`);
    const pods = new Map<string, string>();
    const received: Event[] = [];
    const path = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;
    const watch = await new Watch(cluster.kc).watch(path, { allowWatchBookmarks: true, labelSelector: "kubernetes.io/service-name=web" },
      (type: string, object: Json) => { received.push({ type, object }); }, () => undefined);
    try {
      let expected = 1;
      const waitFor = async (count: number, after: string): Promise<void> => {
        const deadline = Date.now() + 15_000;
        while (kept(received).length < count) {
          if (Date.now() > deadline) throw new Error(`after ${after}: ${String(kept(received).length)} events, expected ${String(count)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      await waitFor(expected, "watch-started");
      const ours = (recordedPod: string | undefined): string => pods.get(recordedPod ?? "") ?? "";
      for (const a of actions) {
        switch (a.action) {
          case "service-and-deployment-created": {
            await core.createNamespacedService({ namespace: ns, body: { metadata: { name: "web" }, spec: {
              selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }],
              ...(name === "headless" ? { clusterIP: "None" } : {}), ...(name === "publishnotready" ? { publishNotReadyAddresses: true } : {}) } } });
            for (const b of actions.filter((x) => x.action === "bound")) {
              const p = await core.createNamespacedPod({ namespace: ns, body: { metadata: { generateName: "web-6fb9bfbc8f-", labels: { app: "web" } },
                spec: { containers: [{ name: "web", image: "registry.example.invalid/web:1.0", ports: [{ name: "http", containerPort: 8080 }] }] } } });
              pods.set(b.pod ?? "", p.metadata?.name ?? "");
            }
            break;
          }
          case "bound":
            await core.createNamespacedPodBinding({ namespace: ns, name: ours(a.pod), body: { metadata: { name: ours(a.pod) }, target: { kind: "Node", name: `conf-${run}-${a.node ?? ""}` } } });
            break;
          case "status-running-notready": {
            const pod = await core.readNamespacedPod({ namespace: ns, name: ours(a.pod) });
            await runPod(cluster.kc, ns, ours(a.pod), { node: pod.spec?.nodeName ?? "", ip: a.ip ?? "", ready: false });
            break;
          }
          case "status-ready":
            await setPodReady(cluster.kc, ns, ours(a.pod), true);
            break;
          case "status-notready-while-terminating":
            await setPodReady(cluster.kc, ns, ours(a.pod), false);
            break;
          case "delete-grace30-call":
            await core.deleteNamespacedPod({ namespace: ns, name: ours(a.pod), gracePeriodSeconds: 30 });
            break;
          case "delete-grace0-call":
            await finishPod(cluster.kc, ns, ours(a.pod));
            break;
          default:
            break;
        }
        if (eventful.has(a.action)) expected += 1;
        await waitFor(expected, a.action);
      }
      // Nothing more may follow.
      await new Promise((r) => setTimeout(r, 300));
      expect(normalise(kept(received), nodeNames)).toEqual(normalise(recorded, {}));
      const rvs = kept(received).map((e) => Number((e.object["metadata"] as Json | undefined)?.["resourceVersion"]));
      expect(rvs.slice(1).every((rv, i) => rv > (rvs[i] ?? 0))).toBe(true);
    } finally {
      watch.abort();
      await deleteNamespace(cluster.kc, ns);
    }
  });
});
