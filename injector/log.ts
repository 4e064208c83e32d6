// One structured logger for the whole process, injected everywhere; tests get the silent one.
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

/** --log-level's values, and "silent" for tests. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export function makeLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    { name: "lameduck", level, base: null, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    destination ?? process.stdout,
  );
}

export const silentLogger: Logger = pino({ level: "silent" });
