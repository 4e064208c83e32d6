// The lines of a watch response, received only as fast as they are taken. What has arrived stays in
// the response's own Buffers (outside the JavaScript heap) until a line is taken, and only then
// becomes a string; past about `bufferBytes` received and not taken, the connection is not read,
// so TCP slows the API server down instead of the process buffering a burst.
//
// Why not readline: its async iterator buffers 1,024 lines before it pauses, whatever their size
// (20 MB of EndpointSlices in a rollout, up to ~1.5 GB of objects padded to the API server's size
// limit by a tenant who can write them), and every line it splits is a string on the heap at once.
// Lines waiting as strings outlive two young-generation collections during a burst and are copied
// into the old generation, where only full collections reclaim them: measured with a burst of
// 10,000 EndpointSlice updates, a full collection every second (npm run bench -- webhook).
import type { Readable } from "node:stream";

/** Bytes received and not yet taken after which a watch stops reading. */
export const watchBufferBytes = 1 << 20;

const newline = 0x0a;

export interface Lines {
  /** The next whole line received (without its "\n" or "\r\n"), or undefined when none is waiting (reading resumes then). */
  next(): string | undefined;
  /** Resolves when a whole line is waiting or the stream has ended. */
  more(): Promise<void>;
  /** The stream has ended, cleanly or not. Lines received before may still be waiting. */
  ended(): boolean;
  /** Why it ended, if not cleanly. */
  failure(): unknown;
  /** Bytes received and not yet taken, a line still arriving included. */
  held(): number;
}

export function receiveLines(input: Readable, bufferBytes = watchBufferBytes): Lines {
  /** Received, not taken: chunks[0] from `offset` on, then the others whole. */
  let chunks: Buffer[] = [];
  let offset = 0;
  let held = 0;
  /** The search for the next newline goes on in chunks[scanChunk] from scanFrom: none before. */
  let scanChunk = 0;
  let scanFrom = 0;
  /** A newline arrived since next() last found none. */
  let lineArrived = false;
  let paused = false;
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const finish = (err?: unknown): void => {
    if (err !== undefined) failure ??= err;
    finished = true;
    signal();
  };
  input.on("data", (data: Buffer | string) => {
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    chunks.push(chunk);
    held += chunk.length;
    if (chunk.includes(newline)) lineArrived = true;
    // Paused only with a whole line waiting: a line longer than the buffer is read to its end.
    if (held >= bufferBytes && lineArrived && !paused) {
      paused = true;
      input.pause();
    }
    if (lineArrived) signal();
  });
  input.on("end", () => { finish(); });
  // The input's error (a watch aborted or cut: "aborted"): the lines before it are still taken.
  input.on("error", (err) => { finish(err); });
  input.on("close", () => { finish(); });

  /** Takes what was received up to chunks[index][end], and `separator` bytes more, as a line. */
  const take = (index: number, end: number, separator: 0 | 1): string => {
    const pieces: Buffer[] = [];
    for (let i = 0; i <= index; i++) {
      const chunk = chunks[i] ?? Buffer.alloc(0);
      pieces.push(chunk.subarray(i === 0 ? offset : 0, i === index ? end : chunk.length));
    }
    const bytes = pieces.length === 1 ? (pieces[0] ?? Buffer.alloc(0)) : Buffer.concat(pieces);
    held -= bytes.length + separator;
    const rest = end + separator;
    if (rest >= (chunks[index]?.length ?? 0)) {
      chunks = chunks.slice(index + 1);
      offset = 0;
    } else {
      chunks = index === 0 ? chunks : chunks.slice(index);
      offset = rest;
    }
    scanChunk = 0;
    scanFrom = offset;
    const cr = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? 1 : 0;
    return bytes.toString("utf8", 0, bytes.length - cr);
  };

  return {
    next() {
      for (; scanChunk < chunks.length; scanChunk++, scanFrom = 0) {
        const at = chunks[scanChunk]?.indexOf(newline, scanFrom) ?? -1;
        if (at !== -1) return take(scanChunk, at, 1);
      }
      lineArrived = false;
      // The last line, without a newline.
      if (finished && chunks.length > 0) return take(chunks.length - 1, chunks.at(-1)?.length ?? 0, 0);
      if (paused && !finished) {
        // Nothing whole is waiting: read on.
        paused = false;
        input.resume();
      }
      return undefined;
    },
    more: () =>
      new Promise<void>((resolve) => {
        if (lineArrived || finished) resolve();
        else wake = resolve;
      }),
    ended: () => finished,
    failure: () => failure,
    held: () => held,
  };
}
