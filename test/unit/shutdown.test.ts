import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runUntilSignalled, shutdownWatchdogMs, type SignalSource } from "../../injector/shutdown.ts";
import { captureLogger } from "../support/log.ts";

function signals(): EventEmitter & SignalSource {
  return new EventEmitter();
}

afterEach(() => {
  vi.useRealTimers();
});

describe("shutdown on signals", () => {
  it("gives up after the delay plus the drain and stop budget, exiting 1", async () => {
    vi.useFakeTimers();
    const source = signals();
    const { logger, messages } = captureLogger();
    const exit = vi.fn<(code: number) => void>();
    const stopped = new Promise<void>(() => undefined);
    void runUntilSignalled({ controller: { beginShutdown: () => undefined, stop: () => stopped }, shutdownDelayMs: 0, logger, signals: source, exit });
    source.emit("SIGTERM", "SIGTERM");
    await vi.advanceTimersByTimeAsync(shutdownWatchdogMs(0) - 1);
    expect(exit).not.toHaveBeenCalled();
    source.emit("SIGTERM", "SIGTERM");
    await vi.advanceTimersByTimeAsync(1);
    expect(exit).toHaveBeenCalledWith(1);
    expect(messages()).toContain("signal received while stopping; still stopping");
    expect(messages()).toContain("graceful shutdown took too long; exiting");
  });

  it("turns unready on the first signal, stops after the delay, and lets go of the signal handlers", async () => {
    const source = signals();
    const { logger } = captureLogger();
    const calls: string[] = [];
    const code = runUntilSignalled({
      controller: {
        beginShutdown: () => calls.push("unready"),
        stop: () => {
          calls.push("stop");
          return Promise.resolve();
        },
      },
      shutdownDelayMs: 50,
      logger,
      signals: source,
      exit: () => undefined,
    });
    expect(source.listenerCount("SIGTERM")).toBe(1);
    expect(source.listenerCount("SIGINT")).toBe(1);
    source.emit("SIGINT", "SIGINT");
    await new Promise(setImmediate);
    expect(calls).toEqual(["unready"]);
    expect(await code).toBe(0);
    expect(calls).toEqual(["unready", "stop"]);
    expect(source.listenerCount("SIGTERM") + source.listenerCount("SIGINT")).toBe(0);
  });
});
