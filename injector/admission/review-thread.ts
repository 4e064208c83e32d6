// A review thread (--review-threads): parses and reviews the bodies the HTTPS thread puts in shared
// memory, answers through shared memory, keeps its copy of the cluster facts from the HTTPS thread's
// feed, logs straight to the process's stdout and sends its counters in tallies. Loaded as its own
// module (dist/lameduck-review.mjs in the bundle); importing it on the main thread does nothing.
import { isMainThread, parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import { pino } from "pino";
import { makeLogger } from "../log.ts";
import { answerBody, type Reply } from "./answer.ts";
import { makeFactsMirror } from "./facts-mirror.ts";
import { makeReviewer } from "./review.ts";
import { makeTally } from "./tally.ts";
import {
  decodeRequest, doorbell, encodeAnswer, reviewThreadRole, slotBytes, slotsPerThread,
  type FromThread, type ReviewThreadData, type ToThread,
} from "./thread-protocol.ts";

function isThreadData(data: unknown): data is ReviewThreadData {
  return typeof data === "object" && data !== null && (data as { role?: unknown }).role === reviewThreadRole;
}

/**
 * A thread that runs out of work watches its doorbell this long before it sleeps on it: under load
 * the next review arrives within that, and neither the HTTPS thread's wake-up call (a futex syscall)
 * nor the thread's wake-up latency is paid (bench: webhook, 72% of the no-op responder's rate without,
 * 81% with). At low rates it costs at most this much CPU per review.
 */
const idleSpinMs = 0.05;

export function runReviewThread(data: ReviewThreadData, port: MessagePort): void {
  const requests = Buffer.from(data.requests);
  const answers = Buffer.from(data.answers);
  const control = new Int32Array(data.control);
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

  const answer = (slot: number, reply: Reply): void => {
    const text = reply.status === 200 ? reply.json : reply.text;
    const length = Buffer.byteLength(text);
    if (length > slotBytes) { post({ kind: "answer", slot, reply }); return; }
    answers.write(text, slot * slotBytes, length, "utf8");
    port.postMessage(encodeAnswer(slot, length, reply.status));
  };

  /** Applies the messages waiting on the port; false once told to stop. */
  const takeMessages = (): boolean => {
    for (let received = receiveMessageOnPort(port); received !== undefined; received = receiveMessageOnPort(port)) {
      const message = received.message as ToThread;
      if (message.kind === "stop") return false;
      mirror.apply(message);
    }
    return true;
  };

  // The thread's own loop: it never returns to its event loop until stopped, and sleeps on the
  // doorbell when there is nothing to do. Messages are taken before requests, so a review sees every
  // facts update the HTTPS thread sent before handing it over.
  let nextTally = performance.now() + data.tallyMs;
  for (;;) {
    const rung = Atomics.load(control, doorbell);
    if (!takeMessages()) break;
    let reviewed = false;
    for (let slot = 0; slot < slotsPerThread; slot++) {
      const request = Atomics.load(control, 1 + slot);
      if (request === 0) continue;
      Atomics.store(control, 1 + slot, 0);
      reviewed = true;
      const { length, ready: synced } = decodeRequest(request);
      ready = synced;
      const offset = slot * slotBytes;
      answer(slot, answerBody(requests.toString("utf8", offset, offset + length), review, logger, tally.counters));
    }
    const now = performance.now();
    if (now >= nextTally) {
      sendTally();
      nextTally = now + data.tallyMs;
    }
    if (!reviewed) {
      const spinUntil = now + idleSpinMs;
      while (Atomics.load(control, doorbell) === rung && performance.now() < spinUntil) { /* spin */ }
      Atomics.wait(control, doorbell, rung, Math.max(1, nextTally - now));
    }
  }
  sendTally();
  post({ kind: "stopped" });
}

if (!isMainThread && parentPort !== null && isThreadData(workerData)) runReviewThread(workerData, parentPort);
