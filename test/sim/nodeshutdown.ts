// Graceful node shutdown, played as the kubelet plays it (docs/operations.md, "Terminations the
// oracle tells apart"): 2 nodes, 4 web pods behind the Service, 2 on each, under steady load. node-a's
// kubelet has shutdownGracePeriod 30 s and shutdownGracePeriodCriticalPods 10 s, so regular pods get
// a 20 s grace-period override. At the shutdown moment node-a turns Ready=False, its pods are stopped
// (preStop, SIGTERM) without any API DELETE, and each is reported Failed with DisruptionTarget once
// its containers have stopped. Measured, per strategy: how long each pod's preStop held it, what its
// hook said, when the proxy stopped routing to it, and the requests that failed.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { makeSimApi } from "./api.ts";
import type { Children } from "./children.ts";
import { startController } from "./controller.ts";
import { startKubelet, type Kubelet, type KubeletEvent } from "./kubelet.ts";
import { startLoad, summarize, type LoadSummary } from "./load.ts";
import { makeListeners } from "./ports.ts";
import type { Profile } from "./profile.ts";
import { Propagation } from "./proxy.ts";
import { makeRollout, type Workload } from "./rollout.ts";
import { Strategy } from "./scenario.ts";
import { startServiceProxy } from "./serviceproxy.ts";
import { startSimCluster, type SimTarget } from "./simcluster.ts";

export const shutdownStrategies = [Strategy.none, Strategy.sleep5, Strategy.lameduck] as const;
export type ShutdownStrategy = (typeof shutdownStrategies)[number];

const nodes = [
  { name: "sim-node-a", ip: "127.0.0.2" },
  { name: "sim-node-b", ip: "127.0.0.3" },
] as const;

export interface NodeShutdownSpec {
  readonly strategy: ShutdownStrategy;
  readonly profile: Profile;
  readonly rps: number;
  /** From the load's start to node-a's shutdown. */
  readonly shutdownAtMs: number;
  readonly shutdownGracePeriodSeconds: number;
  readonly shutdownGracePeriodCriticalPodsSeconds: number;
  /** After the proxy has stopped routing to node-a's pods. */
  readonly tailMs: number;
  readonly seed: number;
}

export interface ShutdownPod {
  readonly pod: string;
  /** From the kill to SIGTERM: what the preStop held the pod. */
  readonly preStopMs: number;
  /** From the shutdown to the container's exit, to the Failed status, to the proxy's last route. */
  readonly exitedAfterMs: number;
  readonly reportedAfterMs: number;
  readonly unroutedAfterMs: number;
  /** The pod object after it was reported: still there (no DELETE), with its phase. */
  readonly phaseAfter: string;
  readonly hookLog: string | undefined;
}

export interface NodeShutdownResult {
  readonly strategy: ShutdownStrategy;
  readonly profile: string;
  readonly graceOverrideSeconds: number;
  readonly load: LoadSummary;
  /** Requests that failed from the shutdown on. */
  readonly failedAfterShutdown: number;
  readonly pods: readonly ShutdownPod[];
  readonly warnings: readonly string[];
  readonly controllerErrors: readonly string[];
}

export interface NodeShutdownDeps {
  readonly children: Children;
  readonly progress: (message: string) => void;
  readonly workDir: string;
  /** The control plane: the in-repo API server unless a kubeconfig is given. */
  readonly target?: SimTarget;
}

const waitTimeoutMs = 60_000;
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runNodeShutdown(spec: NodeShutdownSpec, deps: NodeShutdownDeps): Promise<NodeShutdownResult> {
  const { children, progress, workDir: dir } = deps;
  await mkdir(dir, { recursive: true });
  const warnings: string[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const cluster = await startSimCluster(dir, nodes, deps.target);
    cleanup.push(() => cluster.close());
    const controller =
      spec.strategy === Strategy.lameduck
        ? await startController({ kc: cluster.kc, kubeconfigPath: cluster.kubeconfigPath, children, logFile: join(dir, "lameduck.log"), appNamespaces: [cluster.namespace], timeoutMs: waitTimeoutMs })
        : undefined;
    if (controller) cleanup.push(() => controller.stop());
    const listeners = makeListeners(cluster.podIp);
    cleanup.push(() => listeners.close());
    const onEvent = (e: KubeletEvent): void => {
      if (e.type === "warning") warnings.push(`${e.pod}: ${e.message}`);
    };
    const kubelets: Kubelet[] = [];
    for (const node of nodes) {
      const kubelet = await startKubelet({
        kc: cluster.kc, api: makeSimApi(cluster.kc), namespace: cluster.namespace, nodeName: node.name, podIp: cluster.podIp, hostIp: node.ip,
        rootDir: join(dir, node.name), children, listeners, appLatencyMs: 5, now, onEvent,
      });
      cleanup.push(() => kubelet.stop());
      kubelets.push(kubelet);
    }
    const [kubeletA] = kubelets;
    if (kubeletA === undefined) throw new Error("no kubelet for node-a");
    const service = await startServiceProxy({ kc: cluster.kc, namespace: cluster.namespace, service: cluster.service, profile: spec.profile, propagation: Propagation.perEndpoint, seed: spec.seed, now });
    cleanup.push(() => service.close());

    const web: Workload = { app: cluster.service, replicas: 4, served: true, ...(spec.strategy === Strategy.sleep5 ? { preStopSleepSeconds: 5 } : {}) };
    const onNode = (nodeName: string): ReturnType<typeof makeRollout> =>
      makeRollout({ kc: cluster.kc, namespace: cluster.namespace, nodeName, workload: web, listeners, now, waitTimeoutMs, onProgress: progress });
    progress(`starting 4 web pods, 2 on ${nodes[0].name} and 2 on ${nodes[1].name}`);
    const onA = await onNode(nodes[0].name).createPods("a", 2);
    await onNode(nodes[1].name).createPods("b", 2);
    await service.waitRouted(4, waitTimeoutMs);

    progress(`load: ${String(spec.rps)} requests/s through the simulated kube-proxy, half on keep-alive connections`);
    const load = startLoad({ host: "127.0.0.1", port: service.proxy.port, rps: spec.rps, keepAliveShare: 0.5, timeoutMs: 5000 });
    await sleep(spec.shutdownAtMs);
    const graceOverrideSeconds = spec.shutdownGracePeriodSeconds - spec.shutdownGracePeriodCriticalPodsSeconds;
    progress(`${nodes[0].name} shuts down: Ready=False, its pods killed with a ${String(graceOverrideSeconds)} s grace override and no DELETE`);
    const shutdownAt = now();
    const shutdownAtLoadMs = shutdownAt - load.startedAt;
    await kubeletA.shutdownNode({ graceOverrideSeconds });
    const routedBy = now() + waitTimeoutMs + spec.profile.maxMs;
    while (onA.some((pod) => !service.unroutedAt.has(pod)) && now() < routedBy) await sleep(50);
    await sleep(spec.tailMs);
    const records = await load.stop();

    const core = cluster.kc.makeApiClient(CoreV1Api);
    const pods: ShutdownPod[] = [];
    for (const pod of onA) {
      const t = kubeletA.times.get(pod);
      const after = (at: number | undefined): number => (at === undefined ? Number.NaN : at - shutdownAt);
      const object = await core.readNamespacedPod({ namespace: cluster.namespace, name: pod }).catch(() => undefined);
      pods.push({
        pod,
        preStopMs: t?.sigtermAt !== undefined && t.deletionSeenAt !== undefined ? t.sigtermAt - t.deletionSeenAt : Number.NaN,
        exitedAfterMs: after(t?.exitedAt),
        reportedAfterMs: after(t?.finishedAt),
        unroutedAfterMs: after(service.unroutedAt.get(pod)),
        phaseAfter: object === undefined ? "gone" : `${object.status?.phase ?? "?"}${object.metadata?.deletionTimestamp === undefined ? "" : ", deleting"}`,
        hookLog: t?.hookLog,
      });
    }
    return {
      strategy: spec.strategy,
      profile: spec.profile.name,
      graceOverrideSeconds,
      load: summarize(records),
      failedAfterShutdown: records.filter((r) => !r.ok && r.atMs >= shutdownAtLoadMs).length,
      pods,
      warnings,
      controllerErrors: (await controller?.errorLines()) ?? [],
    };
  } finally {
    for (const c of cleanup.reverse()) await c().catch((err: unknown) => warnings.push(`cleanup: ${String(err)}`));
  }
}

const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : "-");

export function formatNodeShutdownTable(results: readonly NodeShutdownResult[]): string {
  const header = ["strategy", "pod", "preStop held", "exited", "reported Failed", "proxy stopped routing", "pod after", "requests failed after shutdown"];
  const rows = results.flatMap((r) =>
    r.pods.map((p) => [r.strategy, p.pod, ms(p.preStopMs), ms(p.exitedAfterMs), ms(p.reportedAfterMs), ms(p.unroutedAfterMs), p.phaseAfter, `${String(r.failedAfterShutdown)} of ${String(r.load.requests)}`]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
