// An Informer (injector/informers/informer.ts) whose cache the test fills by hand: put() and remove()
// call the handlers as a list-watch would.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Informer } from "../../injector/informers/informer.ts";

export interface ManualInformer<T extends KubernetesObject> extends Informer<T> {
  put(obj: T): void;
  remove(name: string, namespace?: string): void;
}

export function manualInformer<T extends KubernetesObject>(objects: readonly T[] = []): ManualInformer<T> {
  const key = (name: string | undefined, namespace: string | undefined): string => `${namespace ?? ""}/${name ?? ""}`;
  const cache = new Map<string, T>(objects.map((o) => [key(o.metadata?.name, o.metadata?.namespace), o]));
  const handlers = { add: [] as ((obj: T) => void)[], update: [] as ((obj: T) => void)[], delete: [] as ((obj: T) => void)[] };
  return {
    onAdd(cb) { handlers.add.push(cb); },
    onUpdate(cb) { handlers.update.push(cb); },
    onDelete(cb) { handlers.delete.push(cb); },
    get: (name, namespace) => cache.get(key(name, namespace)),
    list: (namespace) => [...cache.values()].filter((o) => namespace === undefined || o.metadata?.namespace === namespace),
    hasSynced: () => true,
    synced: () => Promise.resolve(),
    failingSince: () => undefined,
    start() { /* filled by hand */ },
    stop: () => Promise.resolve(),
    put(obj) {
      const k = key(obj.metadata?.name, obj.metadata?.namespace);
      const existed = cache.has(k);
      cache.set(k, obj);
      for (const cb of existed ? handlers.update : handlers.add) cb(obj);
    },
    remove(name, namespace) {
      const k = key(name, namespace);
      const obj = cache.get(k);
      if (obj === undefined) return;
      cache.delete(k);
      for (const cb of handlers.delete) cb(obj);
    },
  };
}
