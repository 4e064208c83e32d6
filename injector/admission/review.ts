// One AdmissionReview in, one out. Every answer carries the request's UID and allows the pod: a
// webhook that fails closed on its own bugs would stop every controller in the cluster. Only a body
// whose UID cannot be read gets an HTTP error, because no AdmissionReview can answer it.
import type { Operation } from "fast-json-patch";
import type { ClusterFacts } from "../cluster-facts.ts";
import type { Logger } from "../log.ts";
import { mutatePod } from "../mutation/mutate.ts";
import { isObject, podDisplayName, type Pod } from "../mutation/pod.ts";
import { SkipReason, warningText, type Policy } from "../mutation/policy.ts";
import type { ReviewCounters } from "./metrics.ts";

export const admissionApiVersion = "admission.k8s.io/v1";
/** kubectl prints every warning; a handful is plenty. */
const maxWarnings = 10;

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: true;
  readonly patchType?: "JSONPatch";
  readonly patch?: string;
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewOut {
  readonly apiVersion: typeof admissionApiVersion;
  readonly kind: "AdmissionReview";
  readonly response: AdmissionResponse;
}

/** The answer to one POST /mutate: an AdmissionReview, or an HTTP 400 when no uid can be read. */
export type Reply = { readonly status: 200; readonly review: AdmissionReviewOut } | { readonly status: 400; readonly error: string };

function tidy(warnings: readonly string[]): string[] {
  return [...new Set(warnings.map(warningText))].slice(0, maxWarnings);
}

export function allowed(uid: string, warnings: readonly string[] = []): AdmissionReviewOut {
  const w = tidy(warnings);
  return { apiVersion: admissionApiVersion, kind: "AdmissionReview", response: { uid, allowed: true, ...(w.length > 0 ? { warnings: w } : {}) } };
}

export function patched(uid: string, ops: readonly Operation[], warnings: readonly string[] = []): AdmissionReviewOut {
  const w = tidy(warnings);
  const patch = Buffer.from(JSON.stringify(ops)).toString("base64");
  return {
    apiVersion: admissionApiVersion,
    kind: "AdmissionReview",
    response: { uid, allowed: true, patchType: "JSONPatch", patch, ...(w.length > 0 ? { warnings: w } : {}) },
  };
}

export interface ReviewDeps {
  readonly facts: ClusterFacts;
  readonly policy: Policy;
  readonly logger: Logger;
  readonly metrics: ReviewCounters;
  /** False until the informer caches are synced; decisions from cold caches would be wrong. */
  readonly isReady: () => boolean;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Reads the review's UID: the one thing an answer cannot do without. */
export function reviewUid(body: unknown): string | undefined {
  if (!isObject(body) || !isObject(body["request"])) return undefined;
  const uid = str(body["request"]["uid"]);
  return uid === undefined || uid === "" ? undefined : uid;
}

function isPodCreate(request: Record<string, unknown>): boolean {
  const kind = isObject(request["kind"]) ? request["kind"] : {};
  const resource = isObject(request["resource"]) ? request["resource"] : {};
  const sub = request["subResource"];
  return (
    request["operation"] === "CREATE" &&
    kind["kind"] === "Pod" &&
    kind["group"] === "" &&
    resource["resource"] === "pods" &&
    (sub === undefined || sub === "") &&
    isObject(request["object"])
  );
}

export function makeReviewer(deps: ReviewDeps): (body: unknown) => Reply {
  const { logger, metrics } = deps;
  const skip = (uid: string, reason: SkipReason, fields: Record<string, unknown>, warnings: readonly string[] = []): Reply => {
    metrics.reviews.inc({ result: "skipped" });
    metrics.skips.inc({ reason });
    logger.info({ ...fields, result: "skipped", reason }, "not injected");
    return { status: 200, review: allowed(uid, warnings) };
  };

  return (body: unknown): Reply => {
    const uid = reviewUid(body);
    if (uid === undefined || !isObject(body)) {
      metrics.reviews.inc({ result: "bad-request" });
      logger.warn({ result: "bad-request" }, "AdmissionReview without request.uid");
      return { status: 400, error: "not an AdmissionReview: request.uid is missing" };
    }
    const request = isObject(body["request"]) ? body["request"] : {};
    if (body["apiVersion"] !== admissionApiVersion || body["kind"] !== "AdmissionReview") {
      metrics.reviews.inc({ result: "error" });
      logger.warn({ uid, apiVersion: body["apiVersion"], kind: body["kind"] }, "not an admission.k8s.io/v1 AdmissionReview; allowed unchanged");
      return { status: 200, review: allowed(uid, [`lameduck: expected an ${admissionApiVersion} AdmissionReview; pod not injected`]) };
    }
    const dryRun = request["dryRun"] === true;
    if (!isPodCreate(request)) {
      // Registered for pods CREATE only (anything broader also receives status updates, bindings,
      // evictions, exec and deletes); answer anything else unchanged rather than fail it.
      return skip(uid, SkipReason.notPodCreate, { uid, operation: request["operation"], subResource: request["subResource"] });
    }
    const object = request["object"] as Pod;
    const namespace = str(request["namespace"]) ?? object.metadata?.namespace ?? "";
    const fields = { uid, pod: isObject(object.metadata) ? podDisplayName(object) : "<unreadable>", namespace, dryRun };
    if (!deps.isReady()) return skip(uid, SkipReason.notReady, fields, ["lameduck: not injected: the webhook's caches are not synced yet"]);
    try {
      const outcome = mutatePod(object, namespace, deps.facts, deps.policy);
      switch (outcome.result) {
        case "skipped":
          return skip(uid, outcome.reason, outcome.detail === undefined ? fields : { ...fields, detail: outcome.detail }, outcome.warnings);
        case "guarded":
          metrics.reviews.inc({ result: "guarded" });
          for (const reason of new Set(outcome.problems.map((p) => p.reason))) metrics.patchRejected.inc({ reason });
          logger.error({ ...fields, result: "guarded", problems: outcome.problems.map((p) => p.message), why: outcome.plan.why }, "patch withheld: the patched pod would be invalid");
          return { status: 200, review: allowed(uid, [...outcome.warnings, "lameduck: not injected: the patch failed lameduck's own validation (see its log)"]) };
        case "patched":
          metrics.reviews.inc({ result: "patched" });
          metrics.injections.inc({ mode: outcome.plan.handler });
          logger.info({ ...fields, result: "patched", mode: outcome.plan.handler, containers: outcome.plan.containers, why: outcome.plan.why }, "injected");
          return { status: 200, review: patched(uid, outcome.ops, outcome.warnings) };
      }
    } catch (err) {
      metrics.reviews.inc({ result: "error" });
      logger.error({ ...fields, result: "error", err }, "mutation failed; allowed unchanged");
      return { status: 200, review: allowed(uid, ["lameduck: not injected: internal error (see lameduck's log)"]) };
    }
  };
}
