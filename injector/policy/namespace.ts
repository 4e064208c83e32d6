// Whether lameduck applies to a namespace at all: the rule the distributor uses to decide where the
// hook ConfigMap belongs. It reads the namespace exactly as the webhook's policy does
// (injector/mutation/policy.ts, resolvePolicy): the excluded list, then `lameduck.dev/inject` as a
// label, else as an annotation (the label wins; a value other than "true"/"false" is ignored), then
// the opt-in/opt-out selection. Keep the two in step; the lead may fold one into the other.
import { NamespaceSelection } from "../config.ts";
import { Label } from "../names.ts";

export interface NamespacePolicy {
  readonly namespaceSelection: NamespaceSelection;
  readonly excludedNamespaces: readonly string[];
}

/** The fields read (V1Namespace fits; watch events carry timestamps as strings, lists as Dates). */
export interface NamespaceLike {
  readonly metadata?: {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: Date | string | null;
  };
  readonly status?: { readonly phase?: string };
}

export type NamespaceDecision = { readonly inject: true } | { readonly inject: false; readonly reason: string };

function flag(value: string | undefined): boolean | undefined {
  return value === "true" ? true : value === "false" ? false : undefined;
}

export function namespaceInjected(name: string, namespace: NamespaceLike | undefined, policy: NamespacePolicy): NamespaceDecision {
  if (policy.excludedNamespaces.includes(name)) return { inject: false, reason: "namespace is excluded" };
  const meta = namespace?.metadata;
  const chosen = flag(meta?.labels?.[Label.inject]) ?? flag(meta?.annotations?.[Label.inject]);
  if (chosen === false) return { inject: false, reason: `namespace sets ${Label.inject}=false` };
  if (policy.namespaceSelection === NamespaceSelection.optIn && chosen !== true) {
    return { inject: false, reason: `opt-in selection and namespace does not set ${Label.inject}=true` };
  }
  return { inject: true };
}

/** A namespace being deleted: the API refuses new objects in it, so the controllers leave it alone. */
export function namespaceTerminating(namespace: NamespaceLike): boolean {
  return namespace.status?.phase === "Terminating" || namespace.metadata?.deletionTimestamp != null;
}
