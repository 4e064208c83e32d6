// The in-memory object store: one resourceVersion counter across all resources (as etcd's revision),
// and a bounded event history behind it, so that watches can resume and old versions expire (410).
import { randomUUID } from "node:crypto";
import type { ResourceDef } from "./resources.ts";
import { resourceKey } from "./resources.ts";
import type { Obj } from "./objects.ts";
import { jsonEqual, meta, nameOf, namespaceOf, omit, timestamp } from "./objects.ts";
import { alreadyExists, notFound } from "./status.ts";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  readonly rv: number;
  readonly type: EventType;
  readonly res: ResourceDef;
  readonly object: Obj;
  /** The version before a MODIFIED or DELETED change, to translate selector-filtered watches. */
  readonly previous: Obj | undefined;
}

/** "auto": bump when anything but metadata/status changed (spec writes); "keep": status, binding; "bump": graceful deletion. */
export type GenerationRule = "auto" | "keep" | "bump";

export interface Store {
  currentRv(): number;
  get(r: ResourceDef, namespace: string, name: string): Obj | undefined;
  list(r: ResourceDef, namespace?: string): Obj[];
  /** Stores a new object; `metadata.name` must be set. Assigns uid, resourceVersion, creationTimestamp. */
  create(r: ResourceDef, o: Obj): Obj;
  /** Stores a new version of an existing object, bumping generation when anything but metadata/status changed. */
  replace(r: ResourceDef, o: Obj, generation?: GenerationRule): Obj;
  remove(r: ResourceDef, namespace: string, name: string): Obj;
  /** Events of `r` after `rv`, or "expired" when the history no longer reaches back that far. */
  eventsSince(r: ResourceDef, rv: number): StoreEvent[] | "expired";
  /** The oldest resourceVersion a watch may still start from. */
  oldestRv(): number;
  /** Forget all history (an etcd compaction): every earlier resourceVersion answers 410. */
  compact(): void;
  subscribe(listener: (e: StoreEvent) => void): () => void;
}

// Resources whose strategies set metadata.generation (pods since PodObservedGenerationTracking).
const withGeneration = new Set(["pods", "endpointslices", "mutatingwebhookconfigurations", "validatingwebhookconfigurations"]);

export function makeStore(options: { historySize: number }): Store {
  const tables = new Map<string, Map<string, Obj>>();
  const history: StoreEvent[] = [];
  const listeners = new Set<(e: StoreEvent) => void>();
  let rv = 1;
  let floor = rv;

  function table(r: ResourceDef): Map<string, Obj> {
    const key = resourceKey(r);
    let t = tables.get(key);
    if (t === undefined) {
      t = new Map();
      tables.set(key, t);
    }
    return t;
  }

  function record(r: ResourceDef, type: EventType, object: Obj, previous: Obj | undefined): void {
    const e: StoreEvent = { rv, type, res: r, object, previous };
    history.push(e);
    if (history.length > options.historySize) {
      // Drop a tenth at once: shifting one element per write would make every write O(history).
      const drop = Math.max(1, Math.floor(options.historySize / 10));
      const dropped = history.splice(0, drop);
      floor = dropped[dropped.length - 1]?.rv ?? floor;
    }
    for (const l of [...listeners]) l(e);
  }

  function withMeta(o: Obj, fields: Obj): Obj {
    return { ...o, metadata: { ...meta(o), ...fields } };
  }

  function specOf(o: Obj): Obj {
    return omit(o, ["metadata", "status"]);
  }

  return {
    currentRv: () => rv,
    oldestRv: () => floor,
    get: (r, namespace, name) => table(r).get(`${namespace}/${name}`),
    list(r, namespace) {
      const all = [...table(r).values()];
      return namespace === undefined || namespace === "" ? all : all.filter((o) => namespaceOf(o) === namespace);
    },
    create(r, o) {
      const t = table(r);
      const key = `${namespaceOf(o)}/${nameOf(o)}`;
      const existing = t.get(key);
      if (existing !== undefined) throw alreadyExists(r, nameOf(o), meta(existing)["deletionTimestamp"] !== undefined);
      rv += 1;
      const stored = withMeta(o, {
        uid: randomUUID(),
        resourceVersion: String(rv),
        ...(withGeneration.has(r.plural) ? { generation: 1 } : {}),
        creationTimestamp: timestamp(),
      });
      // Keep the real server's key order: name, generateName, namespace, uid, resourceVersion, ...
      stored["metadata"] = orderMeta(meta(stored));
      t.set(key, stored);
      record(r, "ADDED", stored, undefined);
      return stored;
    },
    replace(r, o, generation = "auto") {
      const t = table(r);
      const key = `${namespaceOf(o)}/${nameOf(o)}`;
      const old = t.get(key);
      if (old === undefined) throw notFound(r, nameOf(o));
      rv += 1;
      const fields: Obj = { resourceVersion: String(rv), uid: meta(old)["uid"], creationTimestamp: meta(old)["creationTimestamp"] };
      const gen = meta(old)["generation"];
      if (typeof gen === "number") fields["generation"] = generation === "bump" || (generation === "auto" && !jsonEqual(specOf(old), specOf(o))) ? gen + 1 : gen;
      const stored = withMeta(o, fields);
      stored["metadata"] = orderMeta(meta(stored));
      t.set(key, stored);
      record(r, "MODIFIED", stored, old);
      return stored;
    },
    remove(r, namespace, name) {
      const t = table(r);
      const key = `${namespace}/${name}`;
      const old = t.get(key);
      if (old === undefined) throw notFound(r, name);
      t.delete(key);
      rv += 1;
      // The real DELETED event carries the object at the deletion's resourceVersion.
      const gone = withMeta(old, { resourceVersion: String(rv) });
      record(r, "DELETED", gone, old);
      return gone;
    },
    eventsSince(r, since) {
      if (since < floor) return "expired";
      let lo = 0;
      let hi = history.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((history[mid]?.rv ?? 0) <= since) lo = mid + 1;
        else hi = mid;
      }
      const out: StoreEvent[] = [];
      for (let i = lo; i < history.length; i++) {
        const e = history[i];
        if (e !== undefined && e.res === r) out.push(e);
      }
      return out;
    },
    compact() {
      history.length = 0;
      floor = rv;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

const metaOrder = ["name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
  "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields"];

function orderMeta(m: Obj): Obj {
  const out: Obj = {};
  for (const k of metaOrder) if (m[k] !== undefined) out[k] = m[k];
  for (const [k, v] of Object.entries(m)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}
