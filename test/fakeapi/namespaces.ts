// What kube-controller-manager does around namespaces: a new namespace gets its `default`
// ServiceAccount and the `kube-root-ca.crt` ConfigMap; a terminating namespace has its content
// deleted (pods gracefully, as the namespace controller does) and disappears once empty.
import type { Api, RequestContext } from "./api.ts";
import type { Obj } from "./objects.ts";
import { meta, nameOf, namespaceOf } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import { Res, resources } from "./resources.ts";
import type { Store } from "./store.ts";

export interface NamespaceController {
  stop(): void;
}

const system: RequestContext = { dryRun: false, user: { username: "system:serviceaccount:kube-system:namespace-controller", groups: ["system:serviceaccounts", "system:authenticated"] } };

export function startNamespaceController(store: Store, api: Api, rootCa: string): NamespaceController {
  const pending = new Set<string>();
  let scheduled: NodeJS.Immediate | undefined;

  function populate(ns: string): void {
    if (store.get(Res.serviceaccounts, ns, "default") === undefined) {
      store.create(Res.serviceaccounts, { kind: "ServiceAccount", apiVersion: "v1", metadata: { name: "default", namespace: ns } });
    }
    if (store.get(Res.configmaps, ns, "kube-root-ca.crt") === undefined) {
      store.create(Res.configmaps, { kind: "ConfigMap", apiVersion: "v1", metadata: { name: "kube-root-ca.crt", namespace: ns,
        annotations: { "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters." } },
      data: { "ca.crt": rootCa } });
    }
  }

  function drain(ns: string): void {
    const namespace = store.get(Res.namespaces, "", ns);
    if (namespace === undefined || meta(namespace)["deletionTimestamp"] === undefined) return;
    const namespaced = resources.filter((x: ResourceDef) => x.namespaced);
    for (const r of namespaced) {
      for (const o of store.list(r, ns)) {
        if (meta(o)["deletionTimestamp"] === undefined) api.remove(r, ns, nameOf(o), {}, system);
      }
    }
    if (namespaced.every((r) => store.list(r, ns).length === 0)) store.remove(Res.namespaces, "", ns);
  }

  function schedule(ns: string): void {
    pending.add(ns);
    scheduled ??= setImmediate(() => {
      scheduled = undefined;
      const all = [...pending];
      pending.clear();
      for (const n of all) drain(n);
    });
  }

  const unsubscribe = store.subscribe((e) => {
    if (e.res === Res.namespaces) {
      if (e.type === "ADDED") populate(nameOf(e.object));
      if (e.type === "MODIFIED" && meta(e.object)["deletionTimestamp"] !== undefined) schedule(nameOf(e.object));
      return;
    }
    if (e.type === "DELETED" && e.res.namespaced) {
      const ns = store.get(Res.namespaces, "", namespaceOf(e.object));
      if (ns !== undefined && meta(ns)["deletionTimestamp"] !== undefined) schedule(namespaceOf(e.object));
    }
  });

  return {
    stop() {
      unsubscribe();
      if (scheduled !== undefined) clearImmediate(scheduled);
    },
  };
}

export function bootstrapNamespaces(store: Store): void {
  for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
    const ns: Obj = { kind: "Namespace", apiVersion: "v1", metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
      spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } };
    store.create(Res.namespaces, ns);
  }
}
