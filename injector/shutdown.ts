// What `lameduck run` does between SIGTERM and exit. The kubelet's SIGTERM and the EndpointSlice
// controller's removal of this pod's endpoints start together, but kube-proxy on every node applies
// the removal about a second later (DESIGN.md facts): closing at once would refuse the webhook calls
// and the hooks' questions still routed here, and the API server admits pods without injection when
// the webhook cannot be reached (failurePolicy Ignore). So the controller turns unready, keeps serving
// for --shutdown-delay, and only then answers its held long-polls (the hooks ask again and reach the
// other replica), closes, drains and stops.
import { setTimeout as sleep } from "node:timers/promises";
import { webhookDrainMs } from "./admission/start.ts";
import type { Logger } from "./log.ts";

export interface Stoppable {
  /** Report unready from now on; keep serving. */
  beginShutdown(): void;
  /** Answer held long-polls, stop accepting, drain, stop the informers. */
  stop(): Promise<void>;
}

export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

const signals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

// After the webhook's drain: the oracle closes its held sockets within 2 s, the informers and the
// health server stop at once; the rest is room for a loaded node.
const stopMarginMs = 5_000;

/** How long from the first signal until the process gives up on stopping gracefully and exits 1. */
export function shutdownWatchdogMs(shutdownDelayMs: number): number {
  return shutdownDelayMs + webhookDrainMs + stopMarginMs;
}

export interface ShutdownDeps {
  readonly controller: Stoppable;
  readonly shutdownDelayMs: number;
  readonly logger: Logger;
  /** process in production. */
  readonly signals: SignalSource;
  /** Called by the watchdog: process.exit in production. */
  readonly exit: (code: number) => void;
}

/** Waits for SIGTERM or SIGINT, then shuts the controller down; returns the process exit code. */
export async function runUntilSignalled(deps: ShutdownDeps): Promise<number> {
  const { controller, logger, shutdownDelayMs } = deps;
  let next: ((signal: NodeJS.Signals) => void) | undefined;
  const nextSignal = (): Promise<NodeJS.Signals> => new Promise((resolve) => (next = resolve));
  let phase: "running" | "delay" | "stopping" = "running";
  // One listener for the whole shutdown: with none installed, a second SIGTERM would kill the process.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (phase === "stopping") logger.warn({ signal }, "signal received while stopping; still stopping");
    next?.(signal);
  };
  for (const s of signals) deps.signals.on(s, onSignal);
  try {
    const signal = await nextSignal();
    phase = "delay";
    controller.beginShutdown();
    const limitMs = shutdownWatchdogMs(shutdownDelayMs);
    const watchdog = setTimeout(() => {
      logger.error({ limitMs }, "graceful shutdown took too long; exiting");
      deps.exit(1);
    }, limitMs);
    watchdog.unref();
    logger.info({ signal, shutdownDelayMs }, "signal received: not ready, serving until the shutdown delay ends");
    if (shutdownDelayMs > 0) {
      const abort = new AbortController();
      const second = await Promise.race([nextSignal(), sleep(shutdownDelayMs, undefined, { signal: abort.signal }).then(() => undefined)]);
      abort.abort();
      if (second !== undefined) logger.info({ signal: second }, "second signal: shutting down without the rest of the delay");
    }
    phase = "stopping";
    await controller.stop();
    clearTimeout(watchdog);
    return 0;
  } finally {
    for (const s of signals) deps.signals.off(s, onSignal);
  }
}
