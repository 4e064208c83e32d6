// From the bytes of a POST /mutate body to the bytes of its answer: parse, review, serialize. The same
// function runs on the HTTPS thread (--review-threads=0, or when no review thread can take the body) and
// on the review threads (review-thread.ts), so both give byte-identical answers.
import type { Logger } from "../log.ts";
import type { ReviewCounters } from "./metrics.ts";
import { allowed, reviewUid, type Answer } from "./review.ts";

/** What the server writes: an AdmissionReview (200) or, when no UID can be read, a 400 with a reason. */
export type Reply = { readonly status: 200; readonly json: string } | { readonly status: 400; readonly text: string };

export type Review = (body: unknown) => Answer;

export function answerBody(text: string, review: Review, logger: Logger, counters: ReviewCounters): Reply {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Without JSON there is no request.uid to answer to.
    counters.reviews.inc({ result: "bad-request" });
    return { status: 400, text: "body is not JSON\n" };
  }
  let answer: Answer;
  try {
    answer = review(body);
  } catch (err) {
    // review() answers its own errors with the UID; this is the last line against a bug there.
    logger.error({ err }, "admission review failed");
    const uid = reviewUid(body);
    answer = uid === undefined ? { status: 400, error: "internal error" } : { status: 200, review: allowed(uid, ["lameduck: not injected: internal error"]) };
  }
  return answer.status === 200 ? { status: 200, json: JSON.stringify(answer.review) } : { status: 400, text: `${answer.error}\n` };
}

/**
 * Hands a complete request body to whatever reviews it; `reply` is called exactly once, possibly
 * later (a review thread) or before dispatch returns (inline).
 */
export type Dispatch = (body: Buffer, reply: (reply: Reply) => void) => void;

/** Reviews on the calling thread. */
export function inlineDispatch(review: Review, logger: Logger, counters: ReviewCounters): Dispatch {
  return (body, reply) => { reply(answerBody(body.toString("utf8"), review, logger, counters)); };
}
