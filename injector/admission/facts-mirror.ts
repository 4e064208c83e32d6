// A review thread's ClusterFacts: a copy of the HTTPS thread's, kept by the updates its facts feed
// (facts-feed.ts) sends. Plain data only, because updates travel by structured clone.
// No value import of @kubernetes/client-node here: it would put the whole client (2.5 MB) into the
// review thread's bundle.
import type { ClusterFacts } from "../facts.ts";
import type { NamespaceLike } from "../policy/namespace.ts";

/** What the review reads of one namespace. */
export interface NamespaceFacts {
  /** facts.namespace(name) is known (the namespace informer holds it). */
  readonly present: boolean;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** facts.hookConfigMap(name). */
  readonly hook?: { readonly name: string; readonly hash: string };
}

export interface Globals {
  readonly nativeSleep: boolean;
  readonly architectures: readonly string[];
  readonly oracleAddress?: string;
  readonly currentHookHash?: string;
}

export type FactsUpdate =
  | ({ readonly kind: "globals" } & Globals)
  | {
      readonly kind: "namespaces";
      /** Forget every namespace first (a snapshot). */
      readonly reset: boolean;
      readonly set: readonly (readonly [string, NamespaceFacts])[];
      readonly remove: readonly string[];
    };

export interface FactsMirror {
  readonly facts: ClusterFacts;
  apply(update: FactsUpdate): void;
}

export function makeFactsMirror(): FactsMirror {
  let globals: Globals = { nativeSleep: false, architectures: [] };
  // One Set per change, so that callers may compare architectures by identity.
  let architectures: ReadonlySet<string> = new Set();
  const namespaces = new Map<string, { readonly facts: NamespaceFacts; readonly object: NamespaceLike | undefined }>();

  const toObject = (name: string, facts: NamespaceFacts): NamespaceLike | undefined => {
    if (!facts.present) return undefined;
    return {
      metadata: {
        name,
        ...(facts.labels === undefined ? {} : { labels: { ...facts.labels } }),
        ...(facts.annotations === undefined ? {} : { annotations: { ...facts.annotations } }),
      },
    };
  };

  return {
    facts: {
      nativeSleep: () => globals.nativeSleep,
      nodeArchitectures: () => architectures,
      oracleAddress: () => globals.oracleAddress,
      currentHookHash: () => globals.currentHookHash,
      hookConfigMap: (name) => namespaces.get(name)?.facts.hook,
      namespace: (name) => namespaces.get(name)?.object,
    },
    apply(update) {
      if (update.kind === "globals") {
        globals = update;
        architectures = new Set(update.architectures);
        return;
      }
      if (update.reset) namespaces.clear();
      for (const name of update.remove) namespaces.delete(name);
      for (const [name, facts] of update.set) namespaces.set(name, { facts, object: toObject(name, facts) });
    },
  };
}
