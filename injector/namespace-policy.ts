// Whether lameduck applies to a namespace at all: one rule for the webhook's policy
// (injector/mutation/policy.ts), the distributor (where the hook ConfigMap belongs) and `check`.
// The switch is the namespace *label* `lameduck.dev/inject` only: the MutatingWebhookConfiguration's
// namespaceSelector can read labels and nothing else, so an annotation would be honoured by some
// parts and not others. A value other than "true"/"false" is ignored here (the webhook warns).
import { NamespaceSelection } from "./config.ts";
import { Label } from "./names.ts";

export interface NamespacePolicy {
  readonly namespaceSelection: NamespaceSelection;
  readonly excludedNamespaces: readonly string[];
}

/** The fields read (V1Namespace fits; watch events carry timestamps as strings, lists as Dates). */
export interface NamespaceLike {
  readonly metadata?: {
    readonly name?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: Date | string | null;
  };
  readonly status?: { readonly phase?: string };
}

export const NamespaceSkipReason = {
  excluded: "excluded-namespace",
  optOut: "namespace-opt-out",
  notOptedIn: "namespace-not-opted-in",
} as const;
export type NamespaceSkipReason = (typeof NamespaceSkipReason)[keyof typeof NamespaceSkipReason];

export type NamespaceDecision = { readonly inject: true } | { readonly inject: false; readonly reason: NamespaceSkipReason };

function flag(value: string | undefined): boolean | undefined {
  return value === "true" ? true : value === "false" ? false : undefined;
}

export function namespaceInjected(name: string, namespace: NamespaceLike | undefined, policy: NamespacePolicy): NamespaceDecision {
  if (policy.excludedNamespaces.includes(name)) return { inject: false, reason: NamespaceSkipReason.excluded };
  const chosen = flag(namespace?.metadata?.labels?.[Label.inject]);
  if (chosen === false) return { inject: false, reason: NamespaceSkipReason.optOut };
  if (policy.namespaceSelection === NamespaceSelection.optIn && chosen !== true) {
    return { inject: false, reason: NamespaceSkipReason.notOptedIn };
  }
  return { inject: true };
}

/** A namespace being deleted: the API refuses new objects in it, so the controllers leave it alone. */
export function namespaceTerminating(namespace: NamespaceLike): boolean {
  return namespace.status?.phase === "Terminating" || namespace.metadata?.deletionTimestamp != null;
}
