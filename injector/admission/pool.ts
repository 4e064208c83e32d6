// Review threads (--review-threads): the HTTPS thread copies each body into a free shared-memory slot of
// a review thread and answers when that thread has written the answer into the slot beside it. The
// threads are an optimisation and never a dependency: a body is reviewed inline, on the HTTPS thread,
// when it is larger than a slot, when every slot is busy, while a thread is (re)starting, and again
// when the thread holding it exits or stops answering. Threads that exit are restarted with backoff.
import { Worker } from "node:worker_threads";
import type { Counter } from "prom-client";
import type { Logger } from "../log.ts";
import type { Policy } from "../mutation/policy.ts";
import type { Dispatch, Reply } from "./answer.ts";
import type { FactsFeed } from "./facts-feed.ts";
import type { Inc, ReviewCounters } from "./metrics.ts";
import { addTally } from "./tally.ts";
import {
  controlLength, decodeAnswer, doorbell, encodeRequest, reviewThreadRole, slotBytes, slotsPerThread,
  type FromThread, type ReviewThreadData, type ReviewThreadLog, type ToThread,
} from "./thread-protocol.ts";

export interface ReviewPoolDeps {
  readonly threads: number;
  readonly policy: Policy;
  readonly log: ReviewThreadLog;
  readonly feed: FactsFeed;
  /** The informer caches are synced (read at each dispatch). */
  readonly isReady: () => boolean;
  /** The HTTPS thread's counters; the threads' tallies are added to them. */
  readonly counters: ReviewCounters;
  readonly restarts: Counter;
  /**
   * Reviews answered on the HTTPS thread instead, by reason: large (more than a slot), busy (every
   * slot taken), no-thread (none running: restarting, or closing), taken-back (the thread holding it
   * exited or did not answer in time).
   */
  readonly inlined: Inc<"reason">;
  /** Where a body goes when no thread can take it. */
  readonly inline: Dispatch;
  readonly logger: Logger;
  /** A thread that holds a review this long is stopped and the review answered inline. */
  readonly answerDeadlineMs?: number;
  readonly tallyMs?: number;
  /** How often the feed compares every namespace again (FactsFeed.recheck). */
  readonly recheckMs?: number;
  readonly restartBackoffMs?: { readonly baseMs: number; readonly maxMs: number };
  /** The review thread module; default review-thread.ts beside this file (the bundle's own entry). */
  readonly threadUrl?: URL;
}

export interface ReviewPool {
  readonly dispatch: Dispatch;
  /** Waits for the reviews in flight (answered inline after `timeoutMs`), collects the last tallies, stops the threads. */
  close(timeoutMs?: number): Promise<void>;
}

interface Pending {
  readonly reply: (reply: Reply) => void;
  readonly length: number;
  readonly since: number;
}

interface Thread {
  readonly index: number;
  worker: Worker | undefined;
  readonly requests: Buffer;
  readonly answers: Buffer;
  readonly control: Int32Array;
  readonly data: ReviewThreadData;
  readonly free: number[];
  readonly pending: (Pending | undefined)[];
  restarts: number;
  stopped: (() => void) | undefined;
}

// Replaced at bundle time (build/build.ts): the review thread's own bundle beside lameduck.mjs.
declare const LAMEDUCK_REVIEW_THREAD: string | undefined;
export const defaultThreadUrl = typeof LAMEDUCK_REVIEW_THREAD === "string" ? new URL(LAMEDUCK_REVIEW_THREAD, import.meta.url) : new URL("./review-thread.ts", import.meta.url);

export function startReviewPool(deps: ReviewPoolDeps): ReviewPool {
  const { logger } = deps;
  const deadlineMs = deps.answerDeadlineMs ?? 2_000;
  const backoff = deps.restartBackoffMs ?? { baseMs: 500, maxMs: 30_000 };
  let closing = false;
  const threads: Thread[] = Array.from({ length: deps.threads }, (_, index) => {
    const requests = new SharedArrayBuffer(slotBytes * slotsPerThread);
    const answers = new SharedArrayBuffer(slotBytes * slotsPerThread);
    const control = new SharedArrayBuffer(controlLength * Int32Array.BYTES_PER_ELEMENT);
    return {
      index,
      worker: undefined,
      requests: Buffer.from(requests),
      answers: Buffer.from(answers),
      control: new Int32Array(control),
      data: { role: reviewThreadRole, requests, answers, control, policy: pickPolicy(deps.policy), log: deps.log, tallyMs: deps.tallyMs ?? 1_000 },
      free: [],
      pending: [],
      restarts: 0,
      stopped: undefined,
    };
  });

  const settle = (thread: Thread, slot: number, reply: Reply): void => {
    const pending = thread.pending[slot];
    if (pending === undefined) return;
    thread.pending[slot] = undefined;
    thread.free.push(slot);
    pending.reply(reply);
  };

  /** Wakes the thread if it sleeps on its doorbell. */
  const ring = (thread: Thread): void => {
    Atomics.add(thread.control, doorbell, 1);
    Atomics.notify(thread.control, doorbell, 1);
  };
  const tell = (thread: Thread, message: ToThread): void => {
    if (thread.worker === undefined) return;
    thread.worker.postMessage(message);
    ring(thread);
  };

  /** Reviews inline what a thread held, from its request slots. */
  const takeBack = (thread: Thread): void => {
    thread.free.length = 0;
    thread.pending.forEach((pending, slot) => {
      if (pending === undefined) return;
      thread.pending[slot] = undefined;
      const offset = slot * slotBytes;
      deps.inlined.inc({ reason: "taken-back" });
      deps.inline(Buffer.from(thread.requests.subarray(offset, offset + pending.length)), pending.reply);
    });
  };

  const onMessage = (thread: Thread, message: number | FromThread): void => {
    if (typeof message === "number") {
      const { slot, length, status } = decodeAnswer(message);
      thread.restarts = 0;
      const offset = slot * slotBytes;
      // A string: the HTTP layer writes headers and body of a string answer in one write.
      const text = thread.answers.toString("utf8", offset, offset + length);
      settle(thread, slot, status === 200 ? { status, json: text } : { status, text });
    } else if (message.kind === "answer") {
      settle(thread, message.slot, message.reply);
    } else if (message.kind === "tally") {
      addTally(deps.counters, message.entries);
    } else {
      thread.stopped?.();
    }
  };

  const start = (thread: Thread): void => {
    // A thread that exited may have left requests it never took; they were answered inline.
    thread.control.fill(0);
    const worker = new Worker(deps.threadUrl ?? defaultThreadUrl, { workerData: thread.data, name: `lameduck-review-${thread.index}` });
    thread.worker = worker;
    for (const update of deps.feed.snapshot()) tell(thread, update);
    thread.free.splice(0, thread.free.length, ...Array.from({ length: slotsPerThread }, (_, i) => slotsPerThread - 1 - i));
    // Only the current worker's messages count: a stopped worker's late answer is for a slot reused since.
    worker.on("message", (message: number | FromThread) => { if (thread.worker === worker) onMessage(thread, message); });
    worker.on("error", (err) => { logger.error({ err, thread: thread.index }, "review thread failed"); });
    worker.on("exit", (code) => {
      if (thread.worker !== worker) return;
      thread.worker = undefined;
      takeBack(thread);
      thread.stopped?.();
      if (closing) return;
      const wait = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(thread.restarts, 16));
      thread.restarts++;
      deps.restarts.inc();
      logger.error({ thread: thread.index, code, restartInMs: wait }, "review thread exited; reviewing inline until it is back");
      setTimeout(() => { if (!closing) start(thread); }, wait).unref();
    });
  };

  const unsubscribe = deps.feed.onUpdate((update) => {
    for (const thread of threads) tell(thread, update);
  });

  // A thread that stops answering (a bug that loops) is stopped; its reviews are answered inline.
  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const thread of threads) {
      if (thread.pending.some((p) => p !== undefined && now - p.since > deadlineMs)) {
        logger.error({ thread: thread.index, deadlineMs }, "review thread did not answer in time; restarting it");
        void thread.worker?.terminate();
      }
    }
  }, Math.max(50, deadlineMs / 4));
  watchdog.unref();
  const recheck = setInterval(() => { deps.feed.recheck(); }, deps.recheckMs ?? 30_000);
  recheck.unref();

  for (const thread of threads) start(thread);

  const inline = (reason: string, body: Buffer, reply: (reply: Reply) => void): void => {
    deps.inlined.inc({ reason });
    deps.inline(body, reply);
  };

  const dispatch: Dispatch = (body, reply) => {
    if (body.length > slotBytes) { inline("large", body, reply); return; }
    let chosen: Thread | undefined;
    let running = false;
    if (!closing) {
      for (const thread of threads) {
        if (thread.worker === undefined) continue;
        running = true;
        if (thread.free.length > (chosen?.free.length ?? 0)) chosen = thread;
      }
    }
    const slot = chosen?.free.pop();
    if (chosen?.worker === undefined || slot === undefined) { inline(running ? "busy" : "no-thread", body, reply); return; }
    const globals = deps.feed.globalsIfChanged();
    if (globals !== undefined) for (const thread of threads) tell(thread, globals);
    body.copy(chosen.requests, slot * slotBytes);
    chosen.pending[slot] = { reply, length: body.length, since: performance.now() };
    Atomics.store(chosen.control, 1 + slot, encodeRequest(body.length, deps.isReady()));
    ring(chosen);
  };

  return {
    dispatch,
    async close(timeoutMs = 5_000) {
      closing = true;
      unsubscribe();
      const busy = (): boolean => threads.some((t) => t.pending.some((p) => p !== undefined));
      const until = performance.now() + timeoutMs;
      while (busy() && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
      clearInterval(watchdog);
      clearInterval(recheck);
      await Promise.all(threads.map(async (thread) => {
        const worker = thread.worker;
        if (worker === undefined) return;
        // The last tally, then the thread goes; a thread that does not answer is stopped anyway.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          thread.stopped = () => { clearTimeout(timer); resolve(); };
          tell(thread, { kind: "stop" });
        });
        thread.worker = undefined;
        takeBack(thread);
        await worker.terminate();
      }));
    },
  };
}

/** The policy as plain data: the threads get a copy by structured clone. */
function pickPolicy(policy: Policy): Policy {
  return {
    defaults: policy.defaults,
    namespaceSelection: policy.namespaceSelection,
    excludedNamespaces: policy.excludedNamespaces,
    maxGracePeriodSeconds: policy.maxGracePeriodSeconds,
  };
}
