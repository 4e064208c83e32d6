// What the HTTPS thread and a review thread say to each other. Bodies and answers travel through
// shared memory, one fixed slot per review in flight. A review is handed over by a store into the
// control array and a futex wake (Atomics.notify): a postMessage per review cost the HTTPS thread
// about 6 µs, a tenth of what it has per review (bench: webhook). Answers come back as small-integer
// messages, which cost the review thread, not the HTTPS thread. Everything else is an object message
// that the review thread takes from its port when the doorbell wakes it.
import type { FactsUpdate } from "./facts-mirror.ts";
import type { Reply } from "./answer.ts";
import type { TallyEntry } from "./tally.ts";
import type { LogLevel } from "../log.ts";
import type { Policy } from "../mutation/policy.ts";

export const reviewThreadRole = "lameduck-review";
/** Larger bodies (pods with very many containers or environment variables) are reviewed inline. */
export const slotBytes = 64 * 1024;
/** Reviews in flight per thread; the next ones are reviewed inline. At most 64 (6 bits below). */
export const slotsPerThread = 32;

export interface ReviewThreadData {
  readonly role: typeof reviewThreadRole;
  readonly requests: SharedArrayBuffer;
  readonly answers: SharedArrayBuffer;
  /** Int32Array of controlLength: the doorbell and the requests. */
  readonly control: SharedArrayBuffer;
  readonly policy: Policy;
  readonly log: ReviewThreadLog;
  /** How often the thread sends its counter tally (ms). */
  readonly tallyMs: number;
}

export interface ReviewThreadLog {
  readonly level: LogLevel;
  /** File descriptor (1: the process's stdout) or path the thread's log lines are written to. */
  readonly destination: number | string;
}

/**
 * control[doorbell] is bumped after every request and every message to the thread; the thread sleeps
 * on it (Atomics.wait) when it has nothing to do. control[1 + slot] holds the slot's request, 0 for none.
 */
export const doorbell = 0;
export const controlLength = 1 + slotsPerThread;

/** HTTPS thread → review thread: review the `length` bytes in request slot `slot`; never 0. */
export function encodeRequest(length: number, ready: boolean): number {
  return (length + 1) * 2 + (ready ? 1 : 0);
}

export function decodeRequest(request: number): { length: number; ready: boolean } {
  return { length: (request >> 1) - 1, ready: (request & 1) === 1 };
}

const statusBit = 64;
const lengthUnit = 128;

/** Review thread → HTTPS thread: the answer to slot `slot` is the `length` bytes in answer slot `slot`. */
export function encodeAnswer(slot: number, length: number, status: 200 | 400): number {
  return slot + (status === 400 ? statusBit : 0) + length * lengthUnit;
}

export function decodeAnswer(message: number): { slot: number; length: number; status: 200 | 400 } {
  return { slot: message % statusBit, status: (message & statusBit) !== 0 ? 400 : 200, length: Math.floor(message / lengthUnit) };
}

/** Everything but requests and answers travels as objects. */
export type ToThread = FactsUpdate | { readonly kind: "stop" };
export type FromThread =
  /** An answer too large for its slot. */
  | { readonly kind: "answer"; readonly slot: number; readonly reply: Reply }
  | { readonly kind: "tally"; readonly entries: readonly TallyEntry[] }
  /** Sent after the last tally, in answer to "stop". */
  | { readonly kind: "stopped" };
