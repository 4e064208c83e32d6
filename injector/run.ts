// `lameduck run`: one process holding the informers, the ClusterFacts over them, the hook ConfigMap
// distributor, the drain oracle, the admission webhook and the metrics/health server.
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { collectDefaultMetrics, Registry } from "prom-client";
import { makeFactsFeed } from "./admission/facts-feed.ts";
import { startAdmission, type Admission } from "./admission/start.ts";
import type { ReviewThreadLog } from "./admission/thread-protocol.ts";
import type { RunConfig } from "./config.ts";
import { makeDistributorApi } from "./distributor/api.ts";
import { makeDistributor, type Distributor } from "./distributor/distributor.ts";
import { loadHookSet } from "./distributor/hookset.ts";
import type { ClusterFacts } from "./facts.ts";
import { startHealthServer } from "./health.ts";
import { makeClusterInformers, type ClusterInformers } from "./informers/cluster.ts";
import { makeClusterFacts } from "./informers/facts.ts";
import { backoffDelay, type Delay } from "./informers/informer.ts";
import { makeServerVersion } from "./informers/version.ts";
import type { Logger } from "./log.ts";
import { apiEventCreator, makeEventRecorder } from "./oracle/events.ts";
import { startDrainOracle } from "./oracle/start.ts";
import { runUntilSignalled } from "./shutdown.ts";

export interface ControllerDeps {
  readonly kc: KubeConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** reportingInstance of Events: the pod's name (its hostname in a cluster). */
  readonly instance?: string;
  /** Tests shorten time with these. */
  readonly informerDelay?: Delay;
  readonly resyncMs?: number;
  readonly gcRetryMs?: number;
  /** Where review threads log (tests); default the process's stdout at --log-level. */
  readonly threadLog?: ReviewThreadLog;
  /** false: no admission webhook (tests of the other parts); default true. */
  readonly admission?: boolean;
  /** How long start waits for the webhook before returning with it still starting (default 10 s). */
  readonly admissionStartWaitMs?: number;
}

export interface Controller {
  readonly oraclePort: number;
  readonly metricsPort: number;
  /** The webhook's port once it listens; undefined before, or without the webhook. */
  webhookPort(): number | undefined;
  readonly informers: ClusterInformers;
  readonly facts: ClusterFacts;
  readonly distributor: Distributor;
  isReady(): boolean;
  /** Not ready from now on, while everything keeps serving (the shutdown delay). */
  beginShutdown(): void;
  /** Graceful: not ready, answer held long-polls, close the servers, stop the informers. */
  stop(): Promise<void>;
}

export function loadKubeConfig(config: Pick<RunConfig, "kubeconfig">): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig === undefined) kc.loadFromCluster();
  else kc.loadFromFile(config.kubeconfig);
  return kc;
}

export async function startController(config: RunConfig, deps: ControllerDeps): Promise<Controller> {
  const { kc, logger, registry } = deps;
  const hooks = await loadHookSet(config.hookDir);
  logger.info({ hash: hooks.hash, configMap: hooks.configMapName, hookDir: config.hookDir }, "hook binaries loaded");

  const informers = makeClusterInformers({
    kc,
    logger,
    registry,
    namespace: config.namespace,
    ...(deps.informerDelay === undefined ? {} : { delay: deps.informerDelay }),
  });
  const version = makeServerVersion(kc, logger, deps.informerDelay);
  const distributor = makeDistributor({
    hooks,
    policy: config,
    api: makeDistributorApi(kc, registry),
    namespaces: informers.namespaces,
    configMaps: informers.configMaps,
    logger,
    registry,
    ...(deps.resyncMs === undefined ? {} : { resyncMs: deps.resyncMs }),
    ...(deps.gcRetryMs === undefined ? {} : { gcRetryMs: deps.gcRetryMs }),
  });
  const facts = makeClusterFacts({
    namespaces: informers.namespaces,
    nodes: informers.nodes,
    services: informers.services,
    hooks: distributor,
    oracleAddress: config.oracleAddress,
    oracleService: config.oracleService,
    namespace: config.namespace,
    serverVersion: () => version.get(),
  });
  const oracle = await startDrainOracle({
    slices: informers.endpointSlices,
    nodes: informers.nodes,
    host: config.bindAddress,
    port: config.oraclePort,
    maxWaits: config.maxWaits,
    maxWaitsPerClient: config.maxWaitsPerClient,
    kc,
    registry,
    logger,
    onDrained: makeEventRecorder({ create: apiEventCreator(kc), registry, logger, instance: deps.instance ?? hostname() }),
  });

  // The review threads' copy of the facts, fed from the same informer events.
  const feed = config.reviewThreads > 0 ? makeFactsFeed({ facts, namespaces: informers.namespaces, configMaps: informers.configMaps }) : undefined;

  informers.start();
  distributor.start();
  void version.start();

  const cachesReady = (): boolean => informers.hasSynced() && version.get() !== undefined;
  // Read through a function: the startup loop below reads it again after each await.
  const state = { shuttingDown: false, stopped: false };
  const stopping = (): boolean => state.shuttingDown;
  let admission: Admission | undefined;
  const isReady = (): boolean => !state.shuttingDown && cachesReady() && (admission !== undefined || deps.admission === false);
  const beginShutdown = (): void => {
    state.shuttingDown = true;
  };

  const unready = (): string | undefined => {
    if (state.shuttingDown) return "shutting down";
    if (!cachesReady()) return "caches syncing";
    const stale = informers.stale(config.cacheStaleAfterMs);
    if (stale.length > 0) return `not watching for over ${config.cacheStaleAfterMs / 1000}s: ${stale.join(", ")}`;
    return isReady() ? undefined : "webhook TLS not loaded";
  };
  const health = await startHealthServer({ registry, unready, host: config.bindAddress, port: config.metricsPort });
  // The webhook admits pods without injection until the caches are synced (cachesReady), so it
  // can listen at once; /readyz waits for its certificate as well. Setting up the certificate
  // needs the API (its Secret, the webhook configuration): a failure is retried with backoff while
  // the oracle and the distributor keep working, and the replica stays unready meanwhile.
  const admissionStarted =
    deps.admission === false
      ? Promise.resolve()
      : (async () => {
          for (let attempt = 0; !stopping(); attempt++) {
            try {
              // Each attempt registers its metrics afresh: a failed one must not leave them behind.
              const attemptRegistry = new Registry();
              const started = await startAdmission({
                config, facts, logger, registry: attemptRegistry, kc, isReady: cachesReady,
                ...(feed === undefined ? {} : { feed }),
                ...(deps.threadLog === undefined ? {} : { threadLog: deps.threadLog }),
              });
              for (const { name } of attemptRegistry.getMetricsAsArray()) {
                const metric = attemptRegistry.getSingleMetric(name);
                if (metric !== undefined) registry.registerMetric(metric);
              }
              if (stopping()) await started.close();
              else admission = started;
              return;
            } catch (err) {
              const wait = backoffDelay(attempt, 500, 30_000, Math.random);
              logger.error({ err: err instanceof Error ? err.message : String(err), retryInMs: wait }, "starting the admission webhook failed");
              await (deps.informerDelay ?? ((ms: number) => sleep(ms, undefined, { ref: false })))(wait);
            }
          }
        })();
  await Promise.race([admissionStarted, sleep(deps.admissionStartWaitMs ?? 10_000, undefined, { ref: false })]);
  logger.info({ oraclePort: oracle.port, metricsPort: health.port, webhookPort: admission?.port ?? "starting" }, "lameduck running");

  void Promise.all(informers.all.map((i) => i.synced())).then(() => {
    logger.info("all caches synced");
  });

  return {
    oraclePort: oracle.port,
    metricsPort: health.port,
    webhookPort: () => admission?.port,
    informers,
    facts,
    distributor,
    isReady,
    beginShutdown,
    async stop() {
      if (state.stopped) return;
      state.stopped = true;
      beginShutdown();
      logger.info({ activeWaits: oracle.oracle.activeWaits() }, "shutting down: answering held long-polls");
      await Promise.all([oracle.close(), admission?.close(), admissionStarted]);
      version.stop();
      await distributor.stop();
      await informers.stop();
      await health.close();
      logger.info("stopped");
    },
  };
}

/** Runs until SIGTERM or SIGINT; returns the process exit code. */
export async function run(config: RunConfig, logger: Logger): Promise<number> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let controller: Controller;
  try {
    controller = await startController(config, { kc: loadKubeConfig(config), logger, registry });
  } catch (err) {
    logger.error({ err: err instanceof Error ? err.message : String(err) }, "could not start");
    return 1;
  }
  return runUntilSignalled({
    controller,
    shutdownDelayMs: config.shutdownDelayMs,
    logger,
    signals: process,
    exit: (code) => process.exit(code),
  });
}
