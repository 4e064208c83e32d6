// Keeps the review threads' copy of the cluster facts (facts-mirror.ts) current: namespace and hook
// ConfigMap events mark a namespace, and at the end of the tick the marked namespaces' facts are read
// from the real ClusterFacts and sent if they changed. Reading them after every handler of the tick
// has run matters: the distributor judges a ConfigMap in its own handler, and hookConfigMap() answers
// from that judgement. The globals (version, architectures, oracle address, hook hash) are compared
// before each review is handed over.
import { isDeepStrictEqual } from "node:util";
import type { ClusterFacts } from "../facts.ts";
import type { Informer } from "../informers/informer.ts";
import type { FactsUpdate, NamespaceFacts } from "./facts-mirror.ts";

/** What the feed reads of a cached namespace or ConfigMap (the caches keep lean objects). */
interface Named {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

export interface FactsFeedDeps {
  readonly facts: ClusterFacts;
  readonly namespaces: Informer<Named>;
  /** lameduck's hook ConfigMaps. */
  readonly configMaps: Informer<Named>;
}

export interface FactsFeed {
  /** Everything, for a thread that just started: the globals and every namespace (a reset). */
  snapshot(): FactsUpdate[];
  /** The globals if any changed since the last call, else undefined; cheap, runs per review. */
  globalsIfChanged(): FactsUpdate | undefined;
  /** Namespace changes, one update per tick that had any; returns the unsubscribe function. */
  onUpdate(listener: (update: FactsUpdate) => void): () => void;
  /**
   * Compares every namespace again at the end of this tick and sends what differs: a safety net
   * against a change that came without an event (the pool runs it every 30 s).
   */
  recheck(): void;
}

export function namespaceFacts(facts: ClusterFacts, name: string): NamespaceFacts {
  const ns = facts.namespace(name);
  const hook = facts.hookConfigMap(name);
  return {
    present: ns !== undefined,
    ...(ns?.metadata?.labels === undefined ? {} : { labels: { ...ns.metadata.labels } }),
    ...(ns?.metadata?.annotations === undefined ? {} : { annotations: { ...ns.metadata.annotations } }),
    ...(hook === undefined ? {} : { hook: { name: hook.name, hash: hook.hash } }),
  };
}

/** A namespace the threads should know: it exists, or (already or still) has a hook ConfigMap. */
function isKnown(facts: NamespaceFacts): boolean {
  return facts.present || facts.hook !== undefined;
}

export function makeFactsFeed(deps: FactsFeedDeps): FactsFeed {
  const { facts } = deps;
  const listeners = new Set<(update: FactsUpdate) => void>();
  /** What the threads were last told of each namespace by an update (a snapshot may have told them more). */
  const sent = new Map<string, NamespaceFacts>();
  let dirty = new Set<string>();
  let flushQueued = false;

  const flush = (): void => {
    flushQueued = false;
    const names = dirty;
    dirty = new Set();
    const set: [string, NamespaceFacts][] = [];
    const remove: string[] = [];
    for (const name of names) {
      const now = namespaceFacts(facts, name);
      const before = sent.get(name);
      if (!isKnown(now)) {
        // Always: a thread may know the namespace from its snapshot, which `sent` does not record.
        sent.delete(name);
        remove.push(name);
      } else if (before === undefined || !isDeepStrictEqual(before, now)) {
        sent.set(name, now);
        set.push([name, now]);
      }
    }
    if (set.length === 0 && remove.length === 0) return;
    const update: FactsUpdate = { kind: "namespaces", reset: false, set, remove };
    for (const listener of listeners) listener(update);
  };
  const mark = (name: string | undefined): void => {
    if (name === undefined) return;
    dirty.add(name);
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flush);
    }
  };
  const onNamespace = (ns: Named): void => { mark(ns.metadata?.name); };
  const onConfigMap = (cm: Named): void => { mark(cm.metadata?.namespace); };
  deps.namespaces.onAdd(onNamespace);
  deps.namespaces.onUpdate(onNamespace);
  deps.namespaces.onDelete(onNamespace);
  deps.configMaps.onAdd(onConfigMap);
  deps.configMaps.onUpdate(onConfigMap);
  deps.configMaps.onDelete(onConfigMap);

  interface Current { nativeSleep: boolean; architectures: ReadonlySet<string>; oracleAddress: string | undefined; currentHookHash: string | undefined }
  /** What every running thread was last sent. */
  let lastGlobals: Current | undefined;
  const current = (): Current => ({
    nativeSleep: facts.nativeSleep(), architectures: facts.nodeArchitectures(), oracleAddress: facts.oracleAddress(), currentHookHash: facts.currentHookHash(),
  });
  const globalsUpdate = (now: Current): FactsUpdate => ({
    kind: "globals",
    nativeSleep: now.nativeSleep,
    architectures: [...now.architectures],
    ...(now.oracleAddress === undefined ? {} : { oracleAddress: now.oracleAddress }),
    ...(now.currentHookHash === undefined ? {} : { currentHookHash: now.currentHookHash }),
  });

  /** Every namespace the threads know or the caches hold. */
  const allNames = (): Set<string> => {
    const names = new Set<string>(sent.keys());
    for (const ns of deps.namespaces.list()) if (ns.metadata?.name !== undefined) names.add(ns.metadata.name);
    for (const cm of deps.configMaps.list()) if (cm.metadata?.namespace !== undefined) names.add(cm.metadata.namespace);
    return names;
  };

  return {
    snapshot() {
      // Namespaces marked this tick go out with the snapshot; the threads already running get them
      // from the flush as usual.
      const set: [string, NamespaceFacts][] = [];
      for (const name of allNames()) {
        const now = namespaceFacts(facts, name);
        if (isKnown(now)) set.push([name, now]);
      }
      // lastGlobals stays: if the globals changed, the threads already running learn it at the next
      // review, and this one is told again, harmlessly.
      return [globalsUpdate(current()), { kind: "namespaces", reset: true, set, remove: [] }];
    },
    globalsIfChanged() {
      const last = lastGlobals;
      if (
        last !== undefined &&
        last.architectures === facts.nodeArchitectures() &&
        last.nativeSleep === facts.nativeSleep() &&
        last.oracleAddress === facts.oracleAddress() &&
        last.currentHookHash === facts.currentHookHash()
      ) return undefined;
      lastGlobals = current();
      return globalsUpdate(lastGlobals);
    },
    recheck() {
      for (const name of allNames()) mark(name);
    },
    onUpdate(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
  };
}
