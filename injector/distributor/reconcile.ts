// Level-based reconcile of one namespace: read what is there (from the caches) and make it right.
// It does not care which event brought it here, so it is idempotent and safe to run from events,
// from the periodic resync, and from two replicas at once.
import { V1ConfigMap, V1ObjectMeta } from "@kubernetes/client-node";
import { configMapDigest, type LeanConfigMap } from "../informers/lean.ts";
import type { Logger } from "../log.ts";
import { Label, managedByValue } from "../names.ts";
import { namespaceInjected, namespaceTerminating, type NamespaceLike, type NamespacePolicy } from "../namespace-policy.ts";
import type { DistributorApi } from "./api.ts";
import type { HookSet } from "./hookset.ts";
import type { Verdicts } from "./verdicts.ts";

export interface ReconcileDeps {
  readonly hooks: HookSet;
  readonly policy: NamespacePolicy;
  readonly api: DistributorApi;
  readonly logger: Logger;
  readonly namespace: (name: string) => NamespaceLike | undefined;
  /** lameduck-managed ConfigMaps of a namespace, from the informer cache (metadata only). */
  readonly configMaps: (namespace: string) => readonly LeanConfigMap[];
  /** What is known of their content; judged here, from GETs and creates. */
  readonly verdicts: Verdicts;
  /**
   * false with --hook-source=image: no ConfigMap is created or repaired, and every one of lameduck's
   * is an old version, deleted once no pod carries it (pods injected before the switch keep theirs).
   */
  readonly distribute: boolean;
}

export type ReconcileResult =
  | { readonly outcome: "absent" | "terminating" | "excluded" | "ok" }
  /** An old version is still in use by a pod: look again later (there is no pod informer). */
  | { readonly outcome: "old-version-in-use"; readonly hashes: readonly string[] };

const hookPrefix = "lameduck-hook-";

export function desiredConfigMap(hooks: HookSet, namespace: string): V1ConfigMap {
  return Object.assign(new V1ConfigMap(), {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: Object.assign(new V1ObjectMeta(), {
      name: hooks.configMapName,
      namespace,
      labels: { [Label.managedBy]: managedByValue, [Label.hook]: hooks.hash },
    }),
    immutable: true,
    binaryData: { ...hooks.binaryData },
  });
}

/**
 * The ConfigMap holds exactly the current binaries (its content digest is theirs: nothing more,
 * nothing less), immutably, with its labels. Labels are anyone's to set; the content is the proof.
 */
export function configMapIntact(cm: V1ConfigMap, hooks: HookSet): boolean {
  return (
    cm.immutable === true &&
    configMapDigest(cm) === hooks.contentDigest &&
    cm.metadata?.labels?.[Label.managedBy] === managedByValue &&
    cm.metadata.labels[Label.hook] === hooks.hash
  );
}

function hashOf(cm: LeanConfigMap): string {
  const name = cm.metadata.name;
  return cm.metadata.labels?.[Label.hook] ?? name.slice(hookPrefix.length);
}

export function makeReconciler(deps: ReconcileDeps): (namespace: string) => Promise<ReconcileResult> {
  const { hooks, api, verdicts } = deps;
  const log = deps.logger.child({ component: "distributor" });
  /** Judged from the object itself; the verdict is kept for its version. */
  const judged = (cm: V1ConfigMap): boolean => {
    const ok = configMapIntact(cm, hooks);
    verdicts.record(cm, ok);
    return ok;
  };

  // Namespaces where this replica created the ConfigMap and the cache has not shown it yet. A
  // resync in that window finds no ConfigMap in the cache and gets 409: that is the cache lagging
  // behind our own create, whose verdict is kept, not a copy someone else made. Its add event
  // reconciles the namespace again once the cache has it.
  const createdHere = new Map<string, number>();
  const cacheLagMs = 30_000;

  const create = async (ns: string): Promise<void> => {
    const created = await api.createConfigMap(ns, desiredConfigMap(hooks, ns));
    if (created !== "exists") {
      judged(created);
      createdHere.set(ns, performance.now());
      log.info({ namespace: ns, configMap: hooks.configMapName }, "created hook ConfigMap");
      return;
    }
    const at = createdHere.get(ns);
    if (at !== undefined && performance.now() - at < cacheLagMs) return;
    createdHere.delete(ns);
    // 409: another replica created it a moment ago, or it exists but is invisible to the
    // label-selected cache because someone changed its labels. Look at it once.
    const existing = await api.readConfigMap(ns, hooks.configMapName);
    if (existing === undefined) throw new Error(`ConfigMap ${ns}/${hooks.configMapName} vanished between create and get; retrying`);
    if (!judged(existing)) await replace(ns, existing);
  };

  // Immutable: the API rejects any change to the data, so an altered copy is deleted and recreated.
  // The uid precondition keeps a second replica from deleting the copy the first one just made.
  const replace = async (ns: string, cm: { readonly metadata?: { readonly uid?: string } }): Promise<void> => {
    log.warn({ namespace: ns, configMap: hooks.configMapName, reason: "content differs from the shipped hook binaries" }, "replacing hook ConfigMap");
    await api.deleteConfigMap(ns, hooks.configMapName, cm.metadata?.uid);
    // "exists": someone recreated it in between; its add event brings this namespace back.
    await api.createConfigMap(ns, desiredConfigMap(hooks, ns));
  };

  return async (ns) => {
    const namespace = deps.namespace(ns);
    if (namespace === undefined) {
      createdHere.delete(ns);
      return { outcome: "absent" };
    }
    if (namespaceTerminating(namespace)) return { outcome: "terminating" };
    const ours = deps.configMaps(ns).filter((cm) => cm.metadata.name.startsWith(hookPrefix));
    const decision = namespaceInjected(ns, namespace, deps.policy);
    if (!decision.inject) {
      for (const cm of ours) {
        const name = cm.metadata.name;
        if ((await api.deleteConfigMap(ns, name, cm.metadata.uid)) === "deleted") {
          log.info({ namespace: ns, configMap: name, reason: decision.reason }, "removed hook ConfigMap");
        }
      }
      return { outcome: "excluded" };
    }
    const current = deps.distribute ? ours.find((cm) => cm.metadata.name === hooks.configMapName) : undefined;
    if (current !== undefined) createdHere.delete(ns);
    if (!deps.distribute) {
      // Standing down: nothing to create.
    } else if (current === undefined) {
      await create(ns);
    } else if (verdicts.of(current) !== true) {
      // Not judged in this version yet (or judged altered): its content is read once, now.
      const full = await api.readConfigMap(ns, hooks.configMapName);
      if (full === undefined) await create(ns);
      else if (!judged(full)) await replace(ns, full);
    }

    const inUse: string[] = [];
    for (const old of ours) {
      const name = old.metadata.name;
      if (deps.distribute && name === hooks.configMapName) continue;
      const hash = hashOf(old);
      if (await api.podsCarryHook(ns, hash)) {
        inUse.push(hash);
        continue;
      }
      if ((await api.deleteConfigMap(ns, name, old.metadata.uid)) === "deleted") {
        log.info({ namespace: ns, configMap: name, reason: `no pod carries ${Label.hook}=${hash}` }, "deleted old hook ConfigMap");
      }
    }
    return inUse.length > 0 ? { outcome: "old-version-in-use", hashes: inUse } : { outcome: "ok" };
  };
}
