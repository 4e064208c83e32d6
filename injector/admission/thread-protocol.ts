// What the HTTPS thread and a review thread say to each other. Bodies and answers travel through
// shared memory, one fixed slot per review in flight, and the messages themselves are small integers:
// posting a 4 KB string costs the HTTPS thread more than the review thread saves it (bench: webhook).
import type { FactsUpdate } from "./facts-mirror.ts";
import type { Reply } from "./answer.ts";
import type { TallyEntry } from "./tally.ts";
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
  readonly policy: Policy;
  readonly log: ReviewThreadLog;
  /** How often the thread sends its counter tally (ms). */
  readonly tallyMs: number;
}

export interface ReviewThreadLog {
  readonly level: "debug" | "info" | "warn" | "error" | "silent";
  /** File descriptor (1: the process's stdout) or path the thread's log lines are written to. */
  readonly destination: number | string;
}

const readyBit = 64;
const statusBit = 64;
const lengthUnit = 128;

/** HTTPS thread → review thread: review the `length` bytes in request slot `slot`. */
export function encodeDispatch(slot: number, length: number, ready: boolean): number {
  return slot + (ready ? readyBit : 0) + length * lengthUnit;
}

export function decodeDispatch(message: number): { slot: number; length: number; ready: boolean } {
  return { slot: message % readyBit, ready: (message & readyBit) !== 0, length: Math.floor(message / lengthUnit) };
}

/** Review thread → HTTPS thread: the answer to slot `slot` is the `length` bytes in answer slot `slot`. */
export function encodeAnswer(slot: number, length: number, status: 200 | 400): number {
  return slot + (status === 400 ? statusBit : 0) + length * lengthUnit;
}

export function decodeAnswer(message: number): { slot: number; length: number; status: 200 | 400 } {
  return { slot: message % statusBit, status: (message & statusBit) !== 0 ? 400 : 200, length: Math.floor(message / lengthUnit) };
}

/** Everything but dispatches and answers travels as objects. */
export type ToThread = FactsUpdate | { readonly kind: "stop" };
export type FromThread =
  /** An answer too large for its slot. */
  | { readonly kind: "answer"; readonly slot: number; readonly reply: Reply }
  | { readonly kind: "tally"; readonly entries: readonly TallyEntry[] }
  /** Sent after the last tally, in answer to "stop". */
  | { readonly kind: "stopped" };
