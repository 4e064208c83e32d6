// A logger whose lines the test reads back (the message of each).
import { Writable } from "node:stream";
import { makeLogger, type Logger } from "../../injector/log.ts";

export function captureLogger(level: "debug" | "info" = "info"): { logger: Logger; messages: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: makeLogger(level, stream), messages: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg) };
}
