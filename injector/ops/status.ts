// `lameduck status`: which hook versions each namespace holds, and how many running pods lameduck
// injected, per mode, from the `lameduck.dev/injected` marker and the `lameduck.dev/hook` label.
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Pod } from "@kubernetes/client-node";
import { Annotation, Label } from "../names.ts";
import { managedConfigMapSelector } from "./snapshot.ts";

export interface NamespaceStatus {
  readonly namespace: string;
  /** Hook versions whose ConfigMap the namespace holds. */
  readonly versions: readonly string[];
  readonly pods: number;
  /** Injected pods by mode ("wait", "sleep"), from the marker "v1 <mode>". */
  readonly injected: Readonly<Record<string, number>>;
  /** Injected pods by the hook version they mount (pods with the native sleep mount none). */
  readonly podsByVersion: Readonly<Record<string, number>>;
}

export interface ClusterStatus {
  readonly namespaces: readonly NamespaceStatus[];
  readonly totals: { readonly pods: number; readonly injected: Readonly<Record<string, number>> };
}

const hookPrefix = "lameduck-hook-";

function add(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Pods that still run (or are about to): finished pods will not run a preStop again. */
function live(pod: V1Pod): boolean {
  return pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed";
}

export function summarize(configMaps: readonly V1ConfigMap[], pods: readonly V1Pod[]): ClusterStatus {
  const byNs = new Map<string, { versions: Set<string>; pods: number; injected: Record<string, number>; podsByVersion: Record<string, number> }>();
  const entry = (ns: string): { versions: Set<string>; pods: number; injected: Record<string, number>; podsByVersion: Record<string, number> } => {
    let e = byNs.get(ns);
    if (e === undefined) {
      e = { versions: new Set(), pods: 0, injected: {}, podsByVersion: {} };
      byNs.set(ns, e);
    }
    return e;
  };
  for (const cm of configMaps) {
    const name = cm.metadata?.name ?? "";
    if (!name.startsWith(hookPrefix)) continue;
    entry(cm.metadata?.namespace ?? "").versions.add(cm.metadata?.labels?.[Label.hook] ?? name.slice(hookPrefix.length));
  }
  const totals: Record<string, number> = {};
  let totalPods = 0;
  for (const pod of pods.filter(live)) {
    const e = entry(pod.metadata?.namespace ?? "");
    e.pods++;
    totalPods++;
    const marker = pod.metadata?.annotations?.[Annotation.injected];
    if (marker === undefined) continue;
    const mode = marker.split(" ")[1] ?? "unknown";
    add(e.injected, mode);
    add(totals, mode);
    const version = pod.metadata?.labels?.[Label.hook];
    if (version !== undefined) add(e.podsByVersion, version);
  }
  const namespaces = [...byNs]
    .map(([namespace, e]) => ({ namespace, versions: [...e.versions].sort(), pods: e.pods, injected: e.injected, podsByVersion: e.podsByVersion }))
    .sort((a, b) => a.namespace.localeCompare(b.namespace));
  return { namespaces, totals: { pods: totalPods, injected: totals } };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n");
}

export function formatStatus(status: ClusterStatus): string {
  const count = (r: Readonly<Record<string, number>>, k: string): string => String(r[k] ?? 0);
  const rows = [
    ["NAMESPACE", "HOOK CONFIGMAPS", "PODS", "WAIT", "SLEEP", "PODS BY HOOK VERSION"],
    ...status.namespaces.map((n) => [
      n.namespace,
      n.versions.length === 0 ? "-" : n.versions.join(","),
      String(n.pods),
      count(n.injected, "wait"),
      count(n.injected, "sleep"),
      Object.entries(n.podsByVersion).map(([v, c]) => `${v}=${c}`).join(",") || "-",
    ]),
  ];
  const injected = Object.values(status.totals.injected).reduce((a, b) => a + b, 0);
  const versions = new Set(status.namespaces.flatMap((n) => n.versions));
  const summary = `${status.totals.pods} running pods, ${injected} injected (wait ${count(status.totals.injected, "wait")}, sleep ${count(status.totals.injected, "sleep")}); hook versions in the cluster: ${versions.size === 0 ? "none" : [...versions].sort().join(", ")}`;
  return `${table(rows)}\n\n${summary}\n`;
}

/** Every pod, a page at a time: one unbounded list of a large cluster's pods is hundreds of MB. */
async function listAllPods(core: CoreV1Api): Promise<V1Pod[]> {
  const pods: V1Pod[] = [];
  let token: string | undefined;
  for (let page = 0; page < 100_000; page++) {
    const list = await core.listPodForAllNamespaces({ limit: 500, ...(token === undefined ? {} : { _continue: token }) });
    pods.push(...list.items);
    token = list.metadata?._continue;
    if (token === undefined || token === "") return pods;
  }
  throw new Error("listing pods: too many pages");
}

export async function readStatus(kc: KubeConfig): Promise<ClusterStatus> {
  const core = kc.makeApiClient(CoreV1Api);
  const [configMaps, pods] = await Promise.all([core.listConfigMapForAllNamespaces({ labelSelector: managedConfigMapSelector }), listAllPods(core)]);
  return summarize(configMaps.items, pods);
}
