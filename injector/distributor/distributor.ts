// The hook ConfigMap distributor: namespace and ConfigMap events and a periodic resync feed one
// deduplicating queue of namespace names; each is reconciled level-based (reconcile.ts).
import { Counter, Gauge, type Registry } from "prom-client";
import type { Informer } from "../informers/informer.ts";
import type { LeanConfigMap, LeanNamespace } from "../informers/lean.ts";
import type { Logger } from "../log.ts";
import { Label, managedByValue } from "../names.ts";
import type { NamespacePolicy } from "../namespace-policy.ts";
import type { DistributorApi } from "./api.ts";
import type { HookSet } from "./hookset.ts";
import { makeWorkQueue, type Schedule } from "./queue.ts";
import { makeReconciler } from "./reconcile.ts";
import { makeVerdicts } from "./verdicts.ts";

export interface DistributorDeps {
  readonly hooks: HookSet;
  readonly policy: NamespacePolicy;
  readonly api: DistributorApi;
  readonly namespaces: Informer<LeanNamespace>;
  readonly configMaps: Informer<LeanConfigMap>;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Every namespace is reconciled at least this often (default 5 min). */
  readonly resyncMs?: number;
  /** How soon a namespace whose old hook version is still mounted is looked at again (default 1 min). */
  readonly gcRetryMs?: number;
  readonly concurrency?: number;
  readonly schedule?: Schedule;
  /** false with --hook-source=image: the distributor stands down (reconcile.ts); default true. */
  readonly distribute?: boolean;
}

export interface Distributor {
  /** The current version's ConfigMap in a namespace, if the cache holds it intact now. */
  currentIn(namespace: string): { readonly name: string; readonly hash: string } | undefined;
  readonly hash: string;
  start(): void;
  /** Resolves once nothing is queued or being reconciled. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export function makeDistributor(deps: DistributorDeps): Distributor {
  const { hooks, namespaces, configMaps } = deps;
  const log = deps.logger.child({ component: "distributor" });
  const resyncMs = deps.resyncMs ?? 300_000;
  const gcRetryMs = deps.gcRetryMs ?? 60_000;
  const reconciles = new Counter({
    name: "lameduck_distributor_reconciles_total",
    help: "Namespace reconciles of the hook ConfigMap distributor, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [deps.registry],
  });
  // The ConfigMap cache holds metadata only (informers/lean.ts): a tenant may label a thousand
  // megabyte-sized ConfigMaps as lameduck's, and each costs the cache a few hundred bytes. The
  // content of the current version's ConfigMap is judged by the reconcile, once per version.
  const verdicts = makeVerdicts();
  configMaps.onDelete((cm) => {
    verdicts.forget(cm.metadata.uid);
  });
  const distribute = deps.distribute ?? true;
  const reconcile = makeReconciler({
    distribute,
    verdicts,
    hooks,
    policy: deps.policy,
    api: deps.api,
    logger: deps.logger,
    namespace: (name) => namespaces.get(name),
    configMaps: (ns) => configMaps.list(ns),
  });
  const queue = makeWorkQueue({
    concurrency: deps.concurrency ?? 8,
    ...(deps.schedule === undefined ? {} : { schedule: deps.schedule }),
    worker: async (ns) => {
      const result = await reconcile(ns);
      reconciles.inc({ outcome: result.outcome });
      if (result.outcome === "old-version-in-use") queue.addAfter(ns, gcRetryMs);
    },
    onError: (ns, err, failures, retryInMs) => {
      reconciles.inc({ outcome: "error" });
      log.warn({ namespace: ns, err: err instanceof Error ? err.message : String(err), failures, retryInMs }, "reconcile failed; will retry");
    },
  });
  new Gauge({
    name: "lameduck_distributor_queue_depth",
    help: "Namespaces waiting for or in reconcile.",
    registers: [deps.registry],
    collect() {
      this.set(queue.depth());
    },
  });

  let started = false;
  let resync: NodeJS.Timeout | undefined;
  const ready = (): boolean => namespaces.hasSynced() && configMaps.hasSynced();
  // Before both caches are full a reconcile would see ConfigMaps as missing; events until then are
  // dropped because the first full pass below covers them.
  const enqueue = (ns: string | undefined): void => {
    if (ns !== undefined && started && ready()) queue.add(ns);
  };
  const enqueueAll = (): void => {
    for (const ns of namespaces.list()) enqueue(ns.metadata.name);
  };
  const onNamespace = (ns: LeanNamespace): void => {
    enqueue(ns.metadata.name);
  };
  const onConfigMap = (cm: LeanConfigMap): void => {
    enqueue(cm.metadata.namespace);
  };
  namespaces.onAdd(onNamespace);
  namespaces.onUpdate(onNamespace);
  configMaps.onAdd(onConfigMap);
  configMaps.onUpdate(onConfigMap);
  configMaps.onDelete(onConfigMap);

  return {
    hash: hooks.hash,
    currentIn(ns) {
      if (!distribute) return undefined;
      // An altered copy is about to be replaced; until then it does not count as present.
      // Present when cached with lameduck's labels and not judged altered: a copy not yet judged
      // counts (the webhook names the same ConfigMap either way), a replaced one comes back as new.
      const cm = configMaps.get(hooks.configMapName, ns);
      const labelled = cm?.metadata.labels?.[Label.managedBy] === managedByValue && cm.metadata.labels[Label.hook] === hooks.hash;
      return cm === undefined || !labelled || verdicts.of(cm) === false ? undefined : { name: hooks.configMapName, hash: hooks.hash };
    },
    start() {
      if (started) return;
      started = true;
      void Promise.all([namespaces.synced(), configMaps.synced()]).then(() => {
        if (distribute) log.info({ hash: hooks.hash, namespaces: namespaces.list().length }, "caches synced; reconciling every namespace");
        else log.info({ namespaces: namespaces.list().length }, "hook source is the image: no hook ConfigMaps are distributed; lameduck's existing ones are deleted once no pod carries their version");
        enqueueAll();
      });
      resync = setInterval(enqueueAll, resyncMs);
      resync.unref();
    },
    idle: () => queue.idle(),
    async stop() {
      started = false;
      if (resync !== undefined) clearInterval(resync);
      await queue.shutDown();
    },
  };
}
