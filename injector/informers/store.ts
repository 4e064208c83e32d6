// An informer's cache: lean objects by namespace and name, and the handlers told of each change.
// An object whose resourceVersion did not change is not an update (a relist re-sends them all).
import type { Lean } from "./lean.ts";

export type Handler<T> = (obj: T) => void;

export interface Store<T extends Lean> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Adds or replaces, telling the add or update handlers; unchanged versions are ignored. */
  upsert(obj: T): void;
  /** Removes and tells the delete handlers (with the cached copy); unknown objects are ignored. */
  remove(name: string, namespace: string | undefined): void;
  /** Removes every object `keep` rejects (after a relist: whatever the list no longer had). */
  retain(keep: (namespace: string, name: string) => boolean): void;
  readonly handlers: { readonly add: Handler<T>[]; readonly update: Handler<T>[]; readonly delete: Handler<T>[] };
}

export function makeStore<T extends Lean>(): Store<T> {
  const byNamespace = new Map<string, Map<string, T>>();
  const handlers = { add: [] as Handler<T>[], update: [] as Handler<T>[], delete: [] as Handler<T>[] };
  const tell = (list: readonly Handler<T>[], obj: T): void => {
    for (const h of [...list]) h(obj);
  };
  const drop = (namespace: string, name: string): void => {
    const objects = byNamespace.get(namespace);
    const found = objects?.get(name);
    if (objects === undefined || found === undefined) return;
    objects.delete(name);
    if (objects.size === 0) byNamespace.delete(namespace);
    tell(handlers.delete, found);
  };
  return {
    handlers,
    get: (name, namespace) => byNamespace.get(namespace ?? "")?.get(name),
    list(namespace) {
      if (namespace !== undefined) return [...(byNamespace.get(namespace)?.values() ?? [])];
      const all: T[] = [];
      for (const objects of byNamespace.values()) all.push(...objects.values());
      return all;
    },
    upsert(obj) {
      const namespace = obj.metadata.namespace ?? "";
      let objects = byNamespace.get(namespace);
      if (objects === undefined) {
        objects = new Map();
        byNamespace.set(namespace, objects);
      }
      const found = objects.get(obj.metadata.name);
      if (found !== undefined && found.metadata.resourceVersion !== undefined && found.metadata.resourceVersion === obj.metadata.resourceVersion) return;
      objects.set(obj.metadata.name, obj);
      tell(found === undefined ? handlers.add : handlers.update, obj);
    },
    remove: (name, namespace) => {
      drop(namespace ?? "", name);
    },
    retain(keep) {
      const gone: [string, string][] = [];
      for (const [namespace, objects] of byNamespace) for (const name of objects.keys()) if (!keep(namespace, name)) gone.push([namespace, name]);
      for (const [namespace, name] of gone) drop(namespace, name);
    },
  };
}
