// The distributor's few API calls, each counted by verb and status code. Conflicts (409) and
// not-founds (404) are ordinary outcomes with two replicas reconciling the same namespaces, so they
// come back as values; anything else is thrown with the object named.
import { ApiException, CoreV1Api, V1DeleteOptions, V1Preconditions, type KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { Counter, type Registry } from "prom-client";
import { Label } from "../names.ts";

export interface DistributorApi {
  /** The ConfigMap as created, or "exists" when one of that name is already there (409). */
  createConfigMap(namespace: string, body: V1ConfigMap): Promise<V1ConfigMap | "exists">;
  readConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  /** Deletes only the object with that uid; "gone" when it no longer exists or was replaced. */
  deleteConfigMap(namespace: string, name: string, uid: string | undefined): Promise<"deleted" | "gone">;
  /** Whether any pod in the namespace still carries lameduck.dev/hook=<hash>. */
  podsCarryHook(namespace: string, hash: string): Promise<boolean>;
}

export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  return undefined;
}

export function makeDistributorApi(kc: KubeConfig, registry: Registry): DistributorApi {
  const core = kc.makeApiClient(CoreV1Api);
  const requests = new Counter({
    name: "lameduck_distributor_api_requests_total",
    help: "API requests made by the hook ConfigMap distributor, by verb and HTTP status code.",
    labelNames: ["verb", "code"] as const,
    registers: [registry],
  });
  const call = async <T>(verb: string, what: string, okCode: number, fn: () => Promise<T>): Promise<{ ok: T } | { status: number }> => {
    try {
      const result = await fn();
      requests.inc({ verb, code: String(okCode) });
      return { ok: result };
    } catch (err) {
      const status = statusOf(err);
      requests.inc({ verb, code: status === undefined ? "error" : String(status) });
      if (status === 404 || status === 409) return { status };
      throw new Error(`${verb} ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  return {
    async createConfigMap(namespace, body) {
      const name = body.metadata?.name ?? "";
      const r = await call("create", `ConfigMap ${namespace}/${name}`, 201, () => core.createNamespacedConfigMap({ namespace, body }));
      if ("ok" in r) return r.ok;
      if (r.status === 409) return "exists";
      throw new Error(`create ConfigMap ${namespace}/${name}: namespace not found`);
    },
    async readConfigMap(namespace, name) {
      const r = await call("get", `ConfigMap ${namespace}/${name}`, 200, () => core.readNamespacedConfigMap({ namespace, name }));
      return "ok" in r ? r.ok : undefined;
    },
    async deleteConfigMap(namespace, name, uid) {
      const body = new V1DeleteOptions();
      if (uid !== undefined) body.preconditions = Object.assign(new V1Preconditions(), { uid });
      const r = await call("delete", `ConfigMap ${namespace}/${name}`, 200, () => core.deleteNamespacedConfigMap({ namespace, name, body }));
      return "ok" in r ? "deleted" : "gone";
    },
    async podsCarryHook(namespace, hash) {
      // limit=1: the answer is yes/no, never a relist of the namespace's pods.
      const r = await call("list", `pods in ${namespace} with ${Label.hook}=${hash}`, 200, () =>
        core.listNamespacedPod({ namespace, labelSelector: `${Label.hook}=${hash}`, limit: 1 }),
      );
      if (!("ok" in r)) return false;
      return r.ok.items.length > 0;
    },
  };
}
