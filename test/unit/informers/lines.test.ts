// The watch's line receiver: lines in order, whole across chunks, and no more than about its buffer
// held however fast they arrive; the input is read again once they are taken.
import { PassThrough } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { receiveLines } from "../../../injector/informers/lines.ts";

async function drain(lines: ReturnType<typeof receiveLines>, onLine: (line: string) => void): Promise<void> {
  for (;;) {
    const line = lines.next();
    if (line !== undefined) {
      onLine(line);
      continue;
    }
    if (lines.ended()) return;
    await lines.more();
  }
}

describe("receiveLines", () => {
  it("hands over the lines in order, joined across chunks, the last one without a newline too", async () => {
    const input = new PassThrough();
    const lines = receiveLines(input);
    const seen: string[] = [];
    const done = drain(lines, (l) => seen.push(l));
    input.write("one\ntw");
    input.write("o\r\nthree\n\nfo");
    input.end("ur");
    await done;
    expect(seen).toEqual(["one", "two", "three", "", "four"]);
    expect(lines.failure()).toBeUndefined();
  });

  it("decodes a line whose characters and \\r\\n are split across chunks, and reads on for a line longer than its buffer", async () => {
    const input = new PassThrough();
    const lines = receiveLines(input, 1_000);
    const seen: string[] = [];
    const done = drain(lines, (l) => seen.push(l));
    const text = Buffer.from("héllo wörld ✓\r\n");
    for (const byte of text) input.write(Buffer.of(byte));
    const long = "z".repeat(50_000);
    for (let i = 0; i < long.length; i += 4_096) {
      input.write(long.slice(i, i + 4_096));
      await nextTurn();
    }
    input.end("\nlast");
    await done;
    expect(seen).toEqual(["héllo wörld ✓", long, "last"]);
    expect(lines.held()).toBe(0);
  });

  it("stops reading its input past its buffer, while nobody takes the lines, and reads on once they are taken", async () => {
    const input = new PassThrough({ highWaterMark: 64 * 1024 });
    const buffer = 100_000;
    const lines = receiveLines(input, buffer);
    const line = "x".repeat(10_000);
    // 10 MB offered at once: the writes beyond what the receiver holds stay in the PassThrough.
    let written = 0;
    const write = (): void => {
      while (written < 1_000 && input.write(`${line}\n`)) written++;
    };
    input.on("drain", () => {
      written++;
      write();
    });
    write();
    for (let i = 0; i < 20; i++) await nextTurn();
    // Held: at most the buffer plus the one chunk that crossed it.
    expect(lines.held()).toBeGreaterThanOrEqual(buffer);
    expect(lines.held()).toBeLessThanOrEqual(buffer + 64 * 1024 + line.length);
    expect(written).toBeLessThan(1_000);
    let taken = 0;
    let most = 0;
    const done = drain(lines, (l) => {
      expect(l).toBe(line);
      taken++;
      most = Math.max(most, lines.held());
    });
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (written >= 1_000) resolve();
        else setImmediate(check);
      };
      check();
    });
    input.end();
    await done;
    expect(taken).toBe(1_000);
    expect(most).toBeLessThanOrEqual(buffer + 64 * 1024 + line.length);
  });

  it("ends with the input's error, after the lines that came before it, and the error is not thrown anywhere else", async () => {
    const input = new PassThrough();
    const lines = receiveLines(input);
    input.write("a\nb\n");
    await nextTurn();
    input.destroy(new Error("aborted"));
    const seen: string[] = [];
    await drain(lines, (l) => seen.push(l));
    expect(seen).toEqual(["a", "b"]);
    expect(lines.failure()).toEqual(new Error("aborted"));
  });
});
