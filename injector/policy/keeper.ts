// Keeps the lameduck MutatingAdmissionPolicy equal to what the configuration and the caches say
// (oracle address, node architectures, hook version): level-based, called at start and on every
// resync. The manifests (manifests/overlays/policy) create the policy and its binding, so the
// controller needs only get and update on that one object, never create: a right to create
// admission policies is a right to rewrite any object in the cluster.
import { createHash } from "node:crypto";
import { AdmissionregistrationV1Api, KubernetesObjectApi, V1ObjectMeta, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { ClusterFacts } from "../cluster-facts.ts";
import type { Logger } from "../log.ts";
import { prefix } from "../names.ts";
import { injectionPolicy, policyName, type PolicyConfig } from "./generate.ts";

/** On the policy: a digest of the spec the controller wrote, so that an unchanged one is left alone. */
export const specDigestAnnotation = `${prefix}policy-digest`;

export interface PolicyStore {
  /** The installed policy: its spec as the API server holds it, and the digest lameduck last wrote on it. */
  read(): Promise<{ readonly resourceVersion: string; readonly digest: string | undefined; readonly spec: unknown } | undefined>;
  replace(policy: Record<string, unknown>, resourceVersion: string): Promise<void>;
}

export type KeepResult = "unchanged" | "updated" | "missing";

export interface PolicyKeeper {
  reconcile(): Promise<KeepResult>;
}

export function specDigest(spec: unknown): string {
  return createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
}

/**
 * Whether every field of `want` is in `have` with the same value: the API server adds defaults to
 * what was written but removes nothing the generated policy holds (it has no empty lists or objects).
 */
export function holds(have: unknown, want: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => holds(have[i], w));
  if (typeof want === "object" && want !== null) {
    if (typeof have !== "object" || have === null || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, w]) => holds((have as Record<string, unknown>)[k], w));
  }
  return have === want;
}

export function makePolicyKeeper(deps: { store: PolicyStore; config: PolicyConfig; facts: ClusterFacts; logger: Logger }): PolicyKeeper {
  const { store, config, facts, logger } = deps;
  return {
    async reconcile() {
      const { policy } = injectionPolicy(config, {
        oracleAddress: facts.oracleAddress(),
        architectures: [...facts.nodeArchitectures()].sort(),
        hookHash: facts.currentHookHash(),
      });
      const digest = specDigest(policy["spec"]);
      const current = await store.read();
      if (current === undefined) {
        logger.warn({ policy: policyName }, "MutatingAdmissionPolicy not found: apply manifests/overlays/policy; pods are injected only by the webhook until it exists");
        return "missing";
      }
      // The digest alone is not enough: `kubectl apply -k manifests/overlays/policy` again puts the
      // placeholder's spec back and leaves the annotation, and the policy would inject nothing for good.
      const intact = holds(current.spec, policy["spec"]);
      if (current.digest === digest && intact) return "unchanged";
      const metadata = policy["metadata"] as Record<string, unknown>;
      await store.replace({ ...policy, metadata: { ...metadata, annotations: { [specDigestAnnotation]: digest } } }, current.resourceVersion);
      const why = current.digest === digest ? "its spec was changed by someone else (manifests/overlays/policy applied again?)" : "its inputs changed";
      logger.info({ policy: policyName, digest, why, oracle: facts.oracleAddress() ?? "unknown", hook: facts.currentHookHash() ?? "unknown" }, "MutatingAdmissionPolicy updated");
      return "updated";
    },
  };
}

function httpCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "number") return err.code;
  return undefined;
}

export function kubePolicyStore(kc: KubeConfig): PolicyStore {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  // The generic client for the write: it sends the object as generated, with no typed round trip.
  const objects = KubernetesObjectApi.makeApiClient(kc);
  return {
    async read() {
      try {
        const p = await api.readMutatingAdmissionPolicy({ name: policyName });
        // As JSON: the typed model's fields the server left unset are then absent, not undefined.
        const spec: unknown = JSON.parse(JSON.stringify(p.spec ?? {}));
        return { resourceVersion: p.metadata?.resourceVersion ?? "", digest: p.metadata?.annotations?.[specDigestAnnotation], spec };
      } catch (err) {
        // 403: manifests older than this controller do not grant get on it; then it is not theirs.
        if (httpCode(err) === 404 || httpCode(err) === 403) return undefined;
        throw new Error(`reading MutatingAdmissionPolicy ${policyName}: ${String(err)}`, { cause: err });
      }
    },
    async replace(policy, resourceVersion) {
      const metadata = policy["metadata"] as Record<string, unknown>;
      const body: KubernetesObject = { ...policy, metadata: Object.assign(new V1ObjectMeta(), metadata, { resourceVersion }) };
      try {
        await objects.replace(body);
      } catch (err) {
        throw new Error(`updating MutatingAdmissionPolicy ${policyName}: ${String(err)}`, { cause: err });
      }
    },
  };
}
