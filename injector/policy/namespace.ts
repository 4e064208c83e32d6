// Whether lameduck applies to a namespace at all: the one rule shared by the webhook (inject pods
// there?) and the distributor (keep the hook ConfigMap there?), so the two can never disagree.
import type { V1Namespace } from "@kubernetes/client-node";
import { NamespaceSelection } from "../config.ts";
import { Label } from "../names.ts";

export interface NamespacePolicy {
  readonly namespaceSelection: NamespaceSelection;
  readonly excludedNamespaces: readonly string[];
}

export type NamespaceDecision = { readonly inject: true } | { readonly inject: false; readonly reason: string };

export function namespaceInjected(name: string, namespace: V1Namespace | undefined, policy: NamespacePolicy): NamespaceDecision {
  if (policy.excludedNamespaces.includes(name)) return { inject: false, reason: "namespace is excluded" };
  const label = namespace?.metadata?.labels?.[Label.inject];
  if (label === "false") return { inject: false, reason: `namespace is labelled ${Label.inject}=false` };
  if (policy.namespaceSelection === NamespaceSelection.optIn && label !== "true") {
    return { inject: false, reason: `opt-in selection and namespace is not labelled ${Label.inject}=true` };
  }
  return { inject: true };
}

/** A namespace being deleted: the API refuses new objects in it, so the controllers leave it alone. */
export function namespaceTerminating(namespace: V1Namespace): boolean {
  return namespace.status?.phase === "Terminating" || namespace.metadata?.deletionTimestamp != null;
}
