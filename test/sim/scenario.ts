// One scenario of the simulation: a fresh cluster, a Service with `replicas` pods behind the
// simulated kube-proxy, steady load through the proxy, and a rolling update under one strategy and
// one propagation profile. Alongside, a worker Deployment that no Service selects is rolled too, to
// measure how long its pods wait before SIGTERM.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Children } from "./children.ts";
import { startController, type RunningController } from "./controller.ts";
import { makeSimApi } from "./api.ts";
import { hookImageStore } from "./hook-image.ts";
import { Injection, podsWithoutMarker, type WebhookCounts } from "./injection.ts";
import { startKubelet, type KubeletEvent } from "./kubelet.ts";
import { bucketize, startLoad, summarize, type Bucket, type LoadSummary } from "./load.ts";
import { seededRandom, type Profile } from "./profile.ts";
import { Propagation } from "./proxy.ts";
import { makeListeners } from "./ports.ts";
import { makeRollout, type RolloutTimes, type Workload } from "./rollout.ts";
import { simNode, simNodeIp, startSimCluster, type SimTarget } from "./simcluster.ts";
import { startStreams, type StreamSpec, type StreamSummary, type Streams } from "./streams.ts";
import { startServiceProxy } from "./serviceproxy.ts";

export const Strategy = { none: "none", sleep5: "sleep 5", sleep20: "sleep 20", lameduck: "lameduck wait", lameduckDrain: "lameduck wait + drain" } as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

const usesLameduck = (s: Strategy): boolean => s === Strategy.lameduck || s === Strategy.lameduckDrain;
/** The pod template annotation that turns the hook's drain phase on (docs/operations.md). */
const drainAnnotations = { "lameduck.dev/drain": "true" } as const;

const sleepSeconds: Partial<Record<Strategy, number>> = { [Strategy.sleep5]: 5, [Strategy.sleep20]: 20 };

export interface ScenarioSpec {
  readonly strategy: Strategy;
  readonly profile: Profile;
  /** How slice changes reach the simulated kube-proxy (proxy.ts); per endpoint unless said otherwise. */
  readonly propagation?: Propagation;
  readonly replicas: number;
  readonly workerReplicas: number;
  readonly rps: number;
  /** Share of the requests sent on pooled keep-alive connections; 0.5 unless said otherwise. */
  readonly keepAliveShare?: number;
  /** Clients holding long-lived streams through the Service (streams.ts), alongside the requests. */
  readonly streams?: StreamSpec;
  readonly warmupMs: number;
  readonly tailMs: number;
  readonly seed: number;
  /** lameduck with --hook-source=image: this reference, which the node pulls from the build's hook image layout. */
  readonly hookImage?: string;
  /** A second node of this architecture, running no pods: a mixed-architecture cluster. */
  readonly secondNodeArch?: "amd64" | "arm64";
  /** With a lameduck strategy: who injects; the webhook unless said otherwise. */
  readonly injection?: Injection;
}

export interface WorkerResult {
  readonly pods: number;
  readonly meanDeleteToSigtermMs: number;
  readonly maxDeleteToSigtermMs: number;
}

export interface ScenarioResult {
  readonly strategy: Strategy;
  readonly profile: string;
  readonly propagation: Propagation;
  readonly load: LoadSummary;
  /** With spec.streams: how the streams ended. */
  readonly streams: StreamSummary | undefined;
  readonly rolloutMs: number;
  readonly meanDeleteToSigtermMs: number;
  /** From a web pod's deletion until the proxy stopped sending it new connections. */
  readonly meanProxyCatchUpMs: number;
  readonly maxProxyCatchUpMs: number;
  readonly worker: WorkerResult | undefined;
  readonly bucketMs: number;
  readonly buckets: readonly Bucket[];
  /** The rollout's span, in ms since the load started. */
  readonly rolloutFromMs: number;
  readonly rolloutToMs: number;
  readonly hookLogs: readonly string[];
  readonly warnings: readonly string[];
  /** Error lines the lameduck controller logged during the run (none without lameduck). */
  readonly controllerErrors: readonly string[];
  readonly injection: Injection | undefined;
  /** With a lameduck strategy: the webhook's counters when the rollout started, when it was unregistered (Injection.migrate) and at the end. */
  readonly webhook: { readonly rolloutStart: WebhookCounts; readonly unregistered: WebhookCounts | undefined; readonly end: WebhookCounts } | undefined;
  /** With a lameduck strategy: the pods left at the end (the new version) without lameduck's marker annotation. */
  readonly uninjectedPods: readonly string[];
}

export interface ScenarioDeps {
  readonly children: Children;
  readonly progress: (message: string) => void;
  /** Kept for inspection (controller log, pod directories) when set; else a temporary directory. */
  readonly workDir?: string;
  /** The control plane: the in-repo API server unless a kubeconfig is given. */
  readonly target?: SimTarget;
}

const waitTimeoutMs = 60_000;
const bucketMs = 500;
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function sinceDelete(times: RolloutTimes, at: (pod: string) => number | undefined): number[] {
  const out: number[] = [];
  for (const [pod, deletedAt] of times.deletedAt) {
    const t = at(pod);
    if (t !== undefined) out.push(t - deletedAt);
  }
  return out;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

export async function runScenario(spec: ScenarioSpec, deps: ScenarioDeps): Promise<ScenarioResult> {
  const { children, progress } = deps;
  // With one replica the web rollout has one batch, and no "between batches" to unregister the webhook in.
  if (spec.injection === Injection.migrate && spec.replicas < 2) throw new Error("Injection.migrate needs replicas >= 2");
  const dir = deps.workDir ?? (await mkdtemp(join(tmpdir(), "lameduck-sim-")));
  await mkdir(dir, { recursive: true });
  const warnings: string[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const nodes = spec.secondNodeArch === undefined ? undefined : [{ name: simNode, ip: simNodeIp }, { name: "sim-node-a", ip: "127.0.0.3", arch: spec.secondNodeArch }];
    const cluster = await startSimCluster(dir, nodes, deps.target);
    cleanup.push(() => cluster.close());
    let controller: RunningController | undefined;
    const injection = usesLameduck(spec.strategy) ? (spec.injection ?? Injection.webhook) : undefined;
    if (injection !== undefined) {
      progress(
        injection === Injection.policy
          ? "starting the lameduck controller (policy, distributor, oracle); the webhook unregistered once the policy is filled in"
          : "starting the lameduck controller (webhook, distributor, oracle)",
      );
      controller = await startController({
        kc: cluster.kc,
        kubeconfigPath: cluster.kubeconfigPath,
        children,
        logFile: join(dir, "lameduck.log"),
        appNamespaces: [cluster.namespace],
        timeoutMs: waitTimeoutMs,
        ...(spec.hookImage === undefined ? {} : { hookImage: spec.hookImage }),
        injector: injection,
      });
      const running = controller;
      cleanup.push(() => running.stop());
      if (injection === Injection.migrate) {
        progress("migrating to the policy: manifests/overlays/policy applied; its placeholder injects nothing until the controller fills it in (its next resync, within 30 s)");
        await controller.applyPolicyOverlay();
      }
    }
    const listeners = makeListeners(cluster.podIp);
    cleanup.push(() => listeners.close());
    const onKubelet = (e: KubeletEvent): void => {
      if (e.type === "warning") warnings.push(`${e.pod}: ${e.message}`);
    };
    const kubelet = await startKubelet({
      kc: cluster.kc,
      api: makeSimApi(cluster.kc),
      namespace: cluster.namespace,
      nodeName: cluster.nodeName,
      podIp: cluster.podIp,
      hostIp: simNodeIp,
      rootDir: join(dir, "pods"),
      children,
      listeners,
      appLatencyMs: 5,
      now,
      onEvent: onKubelet,
      ...(spec.hookImage === undefined ? {} : { images: await hookImageStore(join(dir, "images"), spec.hookImage) }),
    });
    cleanup.push(() => kubelet.stop());
    const propagation = spec.propagation ?? Propagation.perEndpoint;
    const service = await startServiceProxy({ kc: cluster.kc, namespace: cluster.namespace, service: cluster.service, profile: spec.profile, propagation, seed: spec.seed, now });
    cleanup.push(() => service.close());
    const { proxy, unroutedAt } = service;

    const preStop = sleepSeconds[spec.strategy];
    const template = {
      ...(preStop === undefined ? {} : { preStopSleepSeconds: preStop }),
      ...(spec.strategy === Strategy.lameduckDrain ? { annotations: drainAnnotations } : {}),
    };
    const web: Workload = { app: cluster.service, replicas: spec.replicas, served: true, ...template };
    const worker: Workload = { app: "worker", replicas: spec.workerReplicas, served: false, ...template };
    const rolloutOptions = { kc: cluster.kc, namespace: cluster.namespace, nodeName: cluster.nodeName, listeners, now, waitTimeoutMs, onProgress: progress };
    const webRollout = makeRollout({ ...rolloutOptions, workload: web });
    const workerRollout = makeRollout({ ...rolloutOptions, workload: worker });

    progress(`starting ${String(spec.replicas)} web pods and ${String(spec.workerReplicas)} worker pods (v1)`);
    const oldWeb = await webRollout.createPods("v1", spec.replicas);
    const oldWorkers = await workerRollout.createPods("v1", spec.workerReplicas);
    // The rollout starts from a settled Service: the proxy has long known the initial pods.
    await service.waitRouted(spec.replicas, waitTimeoutMs);

    const keepAliveShare = spec.keepAliveShare ?? 0.5;
    progress(`load: ${String(spec.rps)} requests/s through the simulated kube-proxy, ${String(keepAliveShare * 100)} % on keep-alive connections`);
    const load = startLoad({ host: "127.0.0.1", port: proxy.port, rps: spec.rps, keepAliveShare, timeoutMs: 5000 });
    let streams: Streams | undefined;
    if (spec.streams !== undefined) {
      progress(`${String(spec.streams.clients)} clients holding ${String(spec.streams.minMs / 1000)}-${String(spec.streams.maxMs / 1000)} s streams, reconnecting when one ends`);
      streams = startStreams({ ...spec.streams, host: "127.0.0.1", port: proxy.port, random: seededRandom(spec.seed + 1) });
      const running = streams;
      cleanup.push(async () => { await running.stop(); });
    }
    await sleep(spec.warmupMs);
    if (injection === Injection.migrate) {
      progress("waiting under load until lameduck check says the policy is filled in; the webhook stays registered until the rollout's second batch");
      await controller?.migrationChecked();
    }
    const rolloutStart = await controller?.webhookCounts();
    let unregistered: WebhookCounts | undefined;
    // The migration's second step between the web rollout's batches: the first batch's pods are
    // injected by both, the rest by the policy alone.
    const migrateMidRollout = async (index: number): Promise<void> => {
      if (injection !== Injection.migrate || controller === undefined || index !== 1) return;
      await controller.unregisterWebhook();
      unregistered = await controller.webhookCounts();
      progress("MutatingWebhookConfiguration lameduck deleted: the policy alone injects from here");
    };
    progress(`rolling out v2 (maxSurge 25%, maxUnavailable 0) under ${spec.strategy}, ${spec.profile.name}`);
    const [webTimes, workerTimes] = await Promise.all([webRollout.rollTo("v2", oldWeb, migrateMidRollout), workerRollout.rollTo("v2", oldWorkers)]);
    progress(`rollout done in ${((webTimes.endedAt - webTimes.startedAt) / 1000).toFixed(1)} s; load continues until the proxy has caught up, then ${String(spec.tailMs / 1000)} s`);
    // Requests keep failing until the slowest consumer has applied the last change.
    const caughtUpBy = now() + waitTimeoutMs + spec.profile.maxMs;
    while (proxy.pending() > 0 && now() < caughtUpBy) await sleep(50);
    await sleep(spec.tailMs);
    const end = await controller?.webhookCounts();
    const uninjectedPods = injection === undefined ? [] : await podsWithoutMarker(cluster.kc, cluster.namespace);
    const records = await load.stop();
    const streamSummary = await streams?.stop();
    const endMs = now() - load.startedAt;

    const sigtermAt = (pod: string): number | undefined => kubelet.times.get(pod)?.sigtermAt;
    const webDelays = sinceDelete(webTimes, sigtermAt);
    const workerDelays = sinceDelete(workerTimes, sigtermAt);
    const catchUp = sinceDelete(webTimes, (pod) => unroutedAt.get(pod));
    const hookLogs = [...kubelet.times.values()].flatMap((t) => (t.hookLog ? [`${t.pod}: ${t.hookLog}`] : []));
    const controllerErrors = (await controller?.errorLines()) ?? [];
    return {
      strategy: spec.strategy,
      profile: spec.profile.name,
      propagation,
      load: summarize(records),
      streams: streamSummary,
      rolloutMs: webTimes.endedAt - webTimes.startedAt,
      meanDeleteToSigtermMs: mean(webDelays),
      meanProxyCatchUpMs: mean(catchUp),
      maxProxyCatchUpMs: catchUp.length === 0 ? Number.NaN : Math.max(...catchUp),
      worker:
        workerDelays.length === 0
          ? undefined
          : { pods: workerDelays.length, meanDeleteToSigtermMs: mean(workerDelays), maxDeleteToSigtermMs: Math.max(...workerDelays) },
      bucketMs,
      buckets: bucketize(records, bucketMs, 0, endMs),
      rolloutFromMs: webTimes.startedAt - load.startedAt,
      rolloutToMs: webTimes.endedAt - load.startedAt,
      hookLogs,
      warnings,
      controllerErrors,
      injection,
      webhook: rolloutStart === undefined || end === undefined ? undefined : { rolloutStart, unregistered, end },
      uninjectedPods,
    };
  } finally {
    for (const c of cleanup.reverse()) await c().catch((err: unknown) => warnings.push(`cleanup: ${String(err)}`));
    if (deps.workDir === undefined) await rm(dir, { recursive: true, force: true });
  }
}
