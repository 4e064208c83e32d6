// A logger whose lines the test reads back: each line's record, or only its message.
import { Writable } from "node:stream";
import { makeLogger, type Logger } from "../../injector/log.ts";

export function captureLogger(level: "debug" | "info" = "info"): { logger: Logger; lines: () => Record<string, unknown>[]; messages: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = (): Record<string, unknown>[] => chunks.join("").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger: makeLogger(level, stream), lines, messages: () => lines().map((l) => String(l["msg"])) };
}
