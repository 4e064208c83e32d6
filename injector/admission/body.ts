// From the bytes of a POST /mutate body to its Reply: the size lameduck reviews, JSON.parse, the review.
import type { Logger } from "../log.ts";
import { SkipReason } from "../mutation/policy.ts";
import type { ReviewCounters } from "./metrics.ts";
import { allowed, reviewUid, type Reply } from "./review.ts";
import { scanReviewUid } from "./uid-scan.ts";

/**
 * The largest AdmissionReview lameduck parses and reviews. A pod is stored in etcd, whose requests
 * stop at 1.5 MiB (protobuf, smaller than JSON), so no pod a controller creates comes near; what
 * lies beyond is an attack, and JSON.parse of megabytes of tiny objects would hold the event loop
 * (and with it the oracle and the probes) for 100 ms and more. Larger bodies get their uid by a
 * scan and are allowed unchanged with a warning.
 */
export const maxReviewBytes = 1024 * 1024;

export type Review = (body: unknown) => Reply;

function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

export function reviewBody(body: Buffer, review: Review, logger: Logger, counters: ReviewCounters): Reply {
  if (body.length > maxReviewBytes) {
    const uid = scanReviewUid(body);
    counters.reviews.inc({ result: uid === undefined ? "bad-request" : "skipped" });
    if (uid === undefined) return { status: 400, error: "not an AdmissionReview: request.uid is missing" };
    counters.skips.inc({ reason: SkipReason.reviewTooLarge });
    logger.warn({ uid, bytes: body.length, result: "skipped", reason: SkipReason.reviewTooLarge }, "not injected");
    return { status: 200, review: allowed(uid, [`lameduck: not injected: the AdmissionReview is ${megabytes(body.length)}, more than the ${megabytes(maxReviewBytes)} lameduck reviews`]) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    // Without JSON there is no request.uid to answer to.
    counters.reviews.inc({ result: "bad-request" });
    return { status: 400, error: "body is not JSON" };
  }
  try {
    return review(parsed);
  } catch (err) {
    // review() answers its own errors with the UID; this is the last line against a bug there.
    logger.error({ err }, "admission review failed");
    const uid = reviewUid(parsed);
    return uid === undefined ? { status: 400, error: "internal error" } : { status: 200, review: allowed(uid, ["lameduck: not injected: internal error"]) };
  }
}
