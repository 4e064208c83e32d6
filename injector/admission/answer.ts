// From the bytes of a POST /mutate body to the bytes of its answer: parse, review, serialize.
import type { Logger } from "../log.ts";
import type { ReviewCounters } from "./metrics.ts";
import { allowed, reviewUid, type Answer } from "./review.ts";

/** What the server writes: an AdmissionReview (200) or, when no UID can be read, a 400 with a reason. */
export type Reply = { readonly status: 200; readonly json: string } | { readonly status: 400; readonly text: string };

export type Review = (body: unknown) => Answer;

export function answerBody(body: Buffer, review: Review, logger: Logger, counters: ReviewCounters): Reply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    // Without JSON there is no request.uid to answer to.
    counters.reviews.inc({ result: "bad-request" });
    return { status: 400, text: "body is not JSON\n" };
  }
  let answer: Answer;
  try {
    answer = review(parsed);
  } catch (err) {
    // review() answers its own errors with the UID; this is the last line against a bug there.
    logger.error({ err }, "admission review failed");
    const uid = reviewUid(parsed);
    answer = uid === undefined ? { status: 400, error: "internal error" } : { status: 200, review: allowed(uid, ["lameduck: not injected: internal error"]) };
  }
  return answer.status === 200 ? { status: 200, json: JSON.stringify(answer.review) } : { status: 400, text: `${answer.error}\n` };
}
