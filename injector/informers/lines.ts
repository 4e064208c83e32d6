// The lines of a watch response, received only as fast as they are taken. readline splits them; this
// holds at most about `bufferBytes` of them and stops reading the connection past that, so TCP slows
// the API server down instead of the process buffering a burst. readline's own async iterator
// buffers 1,024 lines before it pauses, whatever their size: 20 MB of EndpointSlices in a rollout,
// and up to ~1.5 GB of objects padded to the API server's size limit by a tenant who can write them.
import type { Readable } from "node:stream";
import { createInterface } from "node:readline";

/** Bytes (about: UTF-16 units) of received, untaken lines after which a watch stops reading. */
export const watchBufferBytes = 1 << 20;

export interface Lines {
  /** The next line received, or undefined when none is waiting (reading resumes then). */
  next(): string | undefined;
  /** Resolves when a line is waiting or the stream has ended. */
  more(): Promise<void>;
  /** The stream has ended, cleanly or not. Lines received before may still be waiting. */
  ended(): boolean;
  /** Why it ended, if not cleanly. */
  failure(): unknown;
  /** Bytes (about) of lines waiting. */
  held(): number;
}

export function receiveLines(input: Readable, bufferBytes = watchBufferBytes): Lines {
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let queue: string[] = [];
  let head = 0;
  let held = 0;
  let paused = false;
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  rl.on("line", (line) => {
    queue.push(line);
    held += line.length;
    if (held >= bufferBytes && !paused) {
      paused = true;
      rl.pause();
    }
    signal();
  });
  rl.on("close", () => {
    finished = true;
    signal();
  });
  // readline re-emits the input's error (a watch aborted or cut: "aborted") as its own 'error'
  // event; without a listener that would end the process.
  rl.on("error", (err) => {
    failure ??= err;
    finished = true;
    signal();
  });
  return {
    next() {
      if (head === queue.length) {
        queue = [];
        head = 0;
        if (paused && !finished) {
          paused = false;
          rl.resume();
        }
        return undefined;
      }
      const line = queue[head] ?? "";
      queue[head++] = "";
      held -= line.length;
      // A stream that never drains: drop the taken slots now and then.
      if (head >= 1024 && head * 2 >= queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      return line;
    },
    more: () =>
      new Promise<void>((resolve) => {
        if (head < queue.length || finished) resolve();
        else wake = resolve;
      }),
    ended: () => finished,
    failure: () => failure,
    held: () => held,
  };
}
