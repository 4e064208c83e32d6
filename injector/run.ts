// `lameduck run`: one process holding the informers, the ClusterFacts over them, the hook ConfigMap
// distributor, the drain oracle, the admission webhook and the metrics/health server.
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { startAdmission } from "./admission/start.ts";
import { HookSourceKind, type RunConfig } from "./config.ts";
import { makeDistributorApi } from "./distributor/api.ts";
import { makeDistributor, type Distributor } from "./distributor/distributor.ts";
import { loadHookSet } from "./distributor/hookset.ts";
import type { ClusterFacts } from "./cluster-facts.ts";
import { startHealthServer } from "./health.ts";
import { makeClusterInformers, type ClusterInformers } from "./informers/cluster.ts";
import { makeClusterFacts } from "./informers/cached-facts.ts";
import type { Delay } from "./informers/informer.ts";
import { makeServerVersion } from "./informers/version.ts";
import type { Logger } from "./log.ts";
import { apiEventCreator, makeEventRecorder } from "./oracle/events.ts";
import { startDrainOracle } from "./oracle/start.ts";
import { startInjectorLoop, type InjectorLoop } from "./policy/start.ts";
import type { InjectorChoice } from "./policy/mode.ts";
import { registerProcessMetrics } from "./process-metrics.ts";
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
  /** Webhook or policy, and why; undefined until discovery has answered. */
  injector(): InjectorChoice | undefined;
  isReady(): boolean;
  /** Not ready from now on, while everything keeps serving (the shutdown delay). */
  beginShutdown(): void;
  /** Graceful: not ready, answer held long-polls, close the servers, stop the informers. */
  stop(): Promise<void>;
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
    distribute: config.hookSource.kind === HookSourceKind.configmap,
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

  informers.start();
  distributor.start();
  void version.start();

  const cachesReady = (): boolean => informers.hasSynced() && version.get() !== undefined;
  const state = { shuttingDown: false, stopped: false };
  // The webhook admits pods without injection until the caches are synced (cachesReady), so it can
  // listen at once; it retries its start until it can, while the oracle and the distributor work.
  const admission = deps.admission === false ? undefined : startAdmission({
    config, facts, logger, registry, kc, isReady: cachesReady,
    ...(deps.informerDelay === undefined ? {} : { delay: deps.informerDelay }),
  });
  /** Every part that keeps this replica from serving, or undefined when it is ready. */
  const unready = (): string | undefined => {
    if (state.shuttingDown) return "shutting down";
    const missing: string[] = [];
    const unsynced = informers.unsynced();
    if (unsynced.length > 0) missing.push(`caches not synced: ${unsynced.join(", ")}`);
    const stale = informers.stale(config.cacheStaleAfterMs);
    if (stale.length > 0) missing.push(`caches not watching for over ${config.cacheStaleAfterMs / 1000}s: ${stale.join(", ")}`);
    if (version.get() === undefined) missing.push("API server version not known yet");
    const webhook = admission?.unready();
    if (webhook !== undefined) missing.push(webhook);
    return missing.length === 0 ? undefined : missing.join("; ");
  };
  const beginShutdown = (): void => {
    state.shuttingDown = true;
  };
  const health = await startHealthServer({ registry, unready, host: config.bindAddress, port: config.metricsPort });
  await Promise.race([admission?.listening(), sleep(deps.admissionStartWaitMs ?? 10_000, undefined, { ref: false })]);
  logger.info({ oraclePort: oracle.port, metricsPort: health.port, webhookPort: admission?.port() ?? "starting" }, "lameduck running");

  const synced = Promise.all(informers.all.map((i) => i.synced()));
  void synced.then(() => {
    logger.info("all caches synced");
  });
  const injector: InjectorLoop = startInjectorLoop({
    kc, config, facts, logger, synced: () => synced,
    ...(deps.resyncMs === undefined ? {} : { resyncMs: deps.resyncMs }),
    ...(deps.informerDelay === undefined ? {} : { delay: deps.informerDelay }),
  });

  return {
    oraclePort: oracle.port,
    metricsPort: health.port,
    webhookPort: () => admission?.port(),
    informers,
    facts,
    distributor,
    injector: () => injector.choice(),
    isReady: () => unready() === undefined,
    beginShutdown,
    async stop() {
      if (state.stopped) return;
      state.stopped = true;
      beginShutdown();
      logger.info({ activeWaits: oracle.oracle.activeWaits() }, "shutting down: answering held long-polls");
      await Promise.all([oracle.close(), admission?.close()]);
      version.stop();
      injector.stop();
      await distributor.stop();
      await informers.stop();
      await health.close();
      logger.info("stopped");
    },
  };
}

/** Runs until SIGTERM or SIGINT; returns the process exit code. */
export async function run(config: RunConfig, kc: KubeConfig, logger: Logger): Promise<number> {
  const registry = new Registry();
  registerProcessMetrics(registry);
  let controller: Controller;
  try {
    controller = await startController(config, { kc, logger, registry });
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
