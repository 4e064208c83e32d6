// Helpers shared by the admission tests: default facts and policy, reviews built around a pod, and
// applying an answer's patch the way the API server does.
import jsonpatch from "fast-json-patch";
import type { Operation } from "fast-json-patch";
import { Registry } from "prom-client";
import { parseRunConfig } from "../../injector/config.ts";
import type { ClusterFacts } from "../../injector/cluster-facts.ts";
import { staticFacts, type StaticFacts } from "../../injector/offline/static-facts.ts";
import { silentLogger, type Logger } from "../../injector/log.ts";
import { makeAdmissionMetrics, type AdmissionMetrics } from "../../injector/admission/metrics.ts";
import { makeReviewer, type Reply } from "../../injector/admission/review.ts";
import type { Policy } from "../../injector/mutation/policy.ts";

export const defaultStaticFacts: StaticFacts = {
  nativeSleep: true,
  architectures: ["amd64"],
  oracleAddress: "10.96.40.7:8080",
  hookHash: "3f2a9c1e",
  namespaces: { shop: {}, "rec-admission": {}, "rec-b4": {}, "rec-b4-simple": {} },
};

export function testFacts(overrides: Partial<StaticFacts> = {}): ClusterFacts {
  return staticFacts({ ...defaultStaticFacts, ...overrides });
}

export function testPolicy(flags: readonly string[] = []): Policy {
  return parseRunConfig(flags, {}, "/hook");
}

export function podReview(pod: unknown, namespace: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "00000000-0000-4000-8000-000000000001",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      namespace,
      operation: "CREATE",
      userInfo: { username: "admin" },
      object: pod,
      dryRun: false,
      ...extra,
    },
  };
}

export function makeTestReviewer(
  facts: ClusterFacts = testFacts(),
  policy: Policy = testPolicy(),
  options: { logger?: Logger; registry?: Registry; isReady?: () => boolean } = {},
): { review: (body: unknown) => Reply; metrics: AdmissionMetrics; registry: Registry } {
  const registry = options.registry ?? new Registry();
  const metrics = makeAdmissionMetrics(registry);
  const logger = options.logger ?? silentLogger;
  const review = makeReviewer({ facts, policy, logger, metrics, isReady: options.isReady ?? (() => true) });
  return { review, metrics, registry };
}

/** The JSON Patch of an answer, decoded; empty when the answer has none. */
export function patchOf(answer: Reply): Operation[] {
  if (answer.status !== 200 || answer.review.response.patch === undefined) return [];
  const ops: unknown = JSON.parse(Buffer.from(answer.review.response.patch, "base64").toString("utf8"));
  if (!Array.isArray(ops)) throw new Error("patch is not a JSON array");
  return ops as Operation[];
}

/** Applies a patch like the API server: to a copy, validating every operation. */
export function applyOps<T>(doc: T, ops: readonly Operation[]): T {
  return jsonpatch.applyPatch(structuredClone(doc), [...ops], true, true, true).newDocument;
}
