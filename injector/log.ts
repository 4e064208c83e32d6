// One structured logger for the whole process, injected everywhere; tests get the silent one.
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

export function makeLogger(level: "debug" | "info" | "warn" | "error" | "silent", destination?: DestinationStream): Logger {
  return pino(
    { name: "lameduck", level, base: null, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    destination ?? process.stdout,
  );
}

export const silentLogger: Logger = pino({ level: "silent" });
