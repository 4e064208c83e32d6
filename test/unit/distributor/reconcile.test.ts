// The reconcile of one namespace against a cache that lags behind the replica's own writes.
import type { V1ConfigMap } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { makeReconciler } from "../../../injector/distributor/reconcile.ts";
import { makeHookSet } from "../../../injector/distributor/hookset.ts";
import { makeVerdicts } from "../../../injector/distributor/verdicts.ts";
import type { DistributorApi } from "../../../injector/distributor/api.ts";
import { silentLogger } from "../../../injector/log.ts";
import { NamespaceSelection } from "../../../injector/config.ts";

function fakeApi(): DistributorApi & { readonly calls: string[] } {
  const stored = new Map<string, V1ConfigMap>();
  const calls: string[] = [];
  let uid = 0;
  return {
    calls,
    createConfigMap(namespace, body) {
      calls.push(`create ${namespace}`);
      if (stored.has(namespace)) return Promise.resolve("exists");
      uid += 1;
      const created = { ...body, metadata: { ...body.metadata, uid: `uid-${uid}`, resourceVersion: `${uid}` } };
      stored.set(namespace, created);
      return Promise.resolve(created);
    },
    readConfigMap(namespace) {
      calls.push(`get ${namespace}`);
      return Promise.resolve(stored.get(namespace));
    },
    deleteConfigMap(namespace) {
      calls.push(`delete ${namespace}`);
      return Promise.resolve(stored.delete(namespace) ? "deleted" : "gone");
    },
    podsCarryHook() {
      return Promise.resolve(false);
    },
  };
}

describe("reconcile", () => {
  it("does not read back the ConfigMap it created while the cache has not shown it yet", async () => {
    const api = fakeApi();
    const reconcile = makeReconciler({
      hooks: makeHookSet(new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6])),
      policy: { namespaceSelection: NamespaceSelection.optOut, excludedNamespaces: [] },
      api,
      logger: silentLogger,
      namespace: () => ({ metadata: { name: "shop" } }),
      // The cache never catches up in this test: every reconcile finds no ConfigMap.
      configMaps: () => [],
      verdicts: makeVerdicts(),
      distribute: true,
    });
    await reconcile("shop");
    await reconcile("shop");
    await reconcile("shop");
    expect(api.calls).toEqual(["create shop", "create shop", "create shop"]);
  });
});
