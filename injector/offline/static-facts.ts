// ClusterFacts from fixed values: what `lameduck inject` knows from its flags (there is no cluster
// to ask), and what tests describe.
import { V1Namespace, V1ObjectMeta } from "@kubernetes/client-node";
import type { ClusterFacts } from "../cluster-facts.ts";
import { hookConfigMapName } from "../names.ts";

export interface StaticFacts {
  readonly nativeSleep: boolean;
  readonly architectures: readonly string[];
  readonly oracleAddress?: string | undefined;
  /** Hash of the hook ConfigMap taken to exist in every namespace, if any. */
  readonly hookHash?: string | undefined;
  /** Hash known to the process even where no ConfigMap exists yet; defaults to hookHash. */
  readonly currentHookHash?: string | undefined;
  /** Namespaces taken to exist, with their labels and annotations (policy). */
  readonly namespaces?: Readonly<Record<string, { labels?: Record<string, string>; annotations?: Record<string, string> }>>;
  /** Namespaces where the hook ConfigMap does not exist (yet). */
  readonly namespacesWithoutHook?: readonly string[];
}

export function staticFacts(facts: StaticFacts): ClusterFacts {
  const architectures: ReadonlySet<string> = new Set(facts.architectures);
  const { hookHash } = facts;
  const configMap = hookHash === undefined ? undefined : Object.freeze({ name: hookConfigMapName(hookHash), hash: hookHash });
  return {
    nativeSleep: () => facts.nativeSleep,
    nodeArchitectures: () => architectures,
    oracleAddress: () => facts.oracleAddress,
    hookConfigMap: (namespace) => (facts.namespacesWithoutHook?.includes(namespace) === true ? undefined : configMap),
    currentHookHash: () => facts.currentHookHash ?? hookHash,
    namespace: (name): V1Namespace | undefined => {
      const ns = facts.namespaces?.[name];
      if (ns === undefined) return undefined;
      const namespace = new V1Namespace();
      namespace.metadata = Object.assign(new V1ObjectMeta(), { name, ...ns });
      return namespace;
    },
  };
}
