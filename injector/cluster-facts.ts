// What the admission path may know about the cluster: answered from informer caches that are warm
// before the webhook reports ready. Never an API call (STYLE.md, "No API calls in the admission path").
import type { Arch } from "./names.ts";
import type { NamespaceLike } from "./namespace-policy.ts";

export interface ClusterFacts {
  /** The API server serves lifecycle.preStop.sleep (beta, on by default since 1.30; GA 1.34). */
  readonly nativeSleep: () => boolean;
  /** Architectures (kubernetes.io/arch) of the cluster's nodes; empty until nodes are known. */
  readonly nodeArchitectures: () => ReadonlySet<string>;
  /** HOST:PORT the hooks dial, or undefined while unknown. */
  readonly oracleAddress: () => string | undefined;
  /** The current hook ConfigMap of a namespace if it exists there now, else undefined. */
  readonly hookConfigMap: (namespace: string) => { readonly name: string; readonly hash: string } | undefined;
  /**
   * Content hash of the hook binaries this process distributes (the `<hash>` in
   * `lameduck-hook-<hash>`), or undefined while unknown. The webhook names that ConfigMap (mounted
   * with `optional: true`) for a pod created before its namespace's copy exists, on clusters without
   * the native sleep action.
   */
  readonly currentHookHash: () => string | undefined;
  /** The namespace object (labels and annotations carry policy), if cached. */
  readonly namespace: (name: string) => NamespaceLike | undefined;
}

export type { Arch };
