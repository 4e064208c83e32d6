// A review thread (--review-threads): parses and reviews the bodies the HTTPS thread puts in shared
// memory, answers through shared memory, keeps its copy of the cluster facts from the HTTPS thread's
// feed, logs straight to the process's stdout and sends its counters in tallies. Loaded as its own
// module (dist/lameduck-review.mjs in the bundle); importing it on the main thread does nothing.
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";
import { pino } from "pino";
import { makeLogger } from "../log.ts";
import { answerBody, type Reply } from "./answer.ts";
import { makeFactsMirror } from "./facts-mirror.ts";
import { makeReviewer } from "./review.ts";
import { makeTally } from "./tally.ts";
import { decodeDispatch, encodeAnswer, reviewThreadRole, slotBytes, type FromThread, type ReviewThreadData, type ToThread } from "./thread-protocol.ts";

function isThreadData(data: unknown): data is ReviewThreadData {
  return typeof data === "object" && data !== null && (data as { role?: unknown }).role === reviewThreadRole;
}

export function runReviewThread(data: ReviewThreadData, port: MessagePort): void {
  const requests = Buffer.from(data.requests);
  const answers = Buffer.from(data.answers);
  const mirror = makeFactsMirror();
  // Synchronous writes of whole lines to the same file descriptor as the HTTPS thread's: lines from
  // the threads interleave, never mix (each is one write(2), shorter than PIPE_BUF).
  const logger = makeLogger(data.log.level, pino.destination({ dest: data.log.destination, sync: true })).child({ component: "admission" });
  const tally = makeTally();
  let ready = false;
  const review = makeReviewer({ facts: mirror.facts, policy: data.policy, logger, metrics: tally.counters, isReady: () => ready });
  const post = (message: FromThread): void => { port.postMessage(message); };
  const sendTally = (): void => {
    const entries = tally.take();
    if (entries.length > 0) post({ kind: "tally", entries });
  };
  const timer = setInterval(sendTally, data.tallyMs);

  const answer = (slot: number, reply: Reply): void => {
    const text = reply.status === 200 ? reply.json : reply.text;
    const offset = slot * slotBytes;
    const length = typeof text === "string" ? Buffer.byteLength(text) : text.length;
    if (length > slotBytes) { post({ kind: "answer", slot, reply }); return; }
    if (typeof text === "string") answers.write(text, offset, length, "utf8");
    else text.copy(answers, offset);
    port.postMessage(encodeAnswer(slot, length, reply.status));
  };

  port.on("message", (message: number | ToThread) => {
    if (typeof message === "number") {
      const dispatched = decodeDispatch(message);
      const { slot, length } = dispatched;
      ready = dispatched.ready;
      const offset = slot * slotBytes;
      answer(slot, answerBody(requests.toString("utf8", offset, offset + length), review, logger, tally.counters));
      return;
    }
    if (message.kind === "stop") {
      clearInterval(timer);
      sendTally();
      post({ kind: "stopped" });
      return;
    }
    mirror.apply(message);
  });
}

if (!isMainThread && parentPort !== null && isThreadData(workerData)) runReviewThread(workerData, parentPort);
