// Whether lameduck applies to a namespace at all, for the distributor (keep the hook ConfigMap
// there?). It is the webhook's own rule (injector/mutation/policy.ts, resolvePolicy) asked for a
// pod without annotations: the excluded list, then `lameduck.dev/inject` as a namespace label,
// else annotation, then the opt-in/opt-out selection. One rule, so the two sides cannot disagree.
import type { V1Namespace } from "@kubernetes/client-node";
import { resolvePolicy, type Policy } from "../mutation/policy.ts";

export type { Policy as NamespacePolicy };

export type NamespaceDecision = { readonly inject: true } | { readonly inject: false; readonly reason: string };

export function namespaceInjected(name: string, namespace: V1Namespace | undefined, policy: Policy): NamespaceDecision {
  const resolution = resolvePolicy(undefined, name, namespace, policy);
  return resolution.inject ? { inject: true } : { inject: false, reason: resolution.reason };
}

/** The fields read (V1Namespace fits; watch events carry timestamps as strings, lists as Dates). */
export interface NamespaceLike {
  readonly metadata?: { readonly deletionTimestamp?: Date | string | null };
  readonly status?: { readonly phase?: string };
}

/** A namespace being deleted: the API refuses new objects in it, so the controllers leave it alone. */
export function namespaceTerminating(namespace: NamespaceLike): boolean {
  return namespace.status?.phase === "Terminating" || namespace.metadata?.deletionTimestamp != null;
}
