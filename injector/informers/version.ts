// The API server's version (GET /version), fetched once at start and retried with backoff until it
// answers: it decides whether the webhook may emit the native sleep action.
import { VersionApi, type KubeConfig } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "../backoff.ts";
import type { Logger } from "../log.ts";
import type { Delay } from "./informer.ts";

export interface ServerVersion {
  get(): { readonly major: string; readonly minor: string; readonly gitVersion: string } | undefined;
  /** Resolves once known, or when stopped. */
  start(): Promise<void>;
  stop(): void;
}

export function makeServerVersion(kc: KubeConfig, logger: Logger, delay: Delay = (ms) => sleep(ms, undefined, { ref: false })): ServerVersion {
  const api = kc.makeApiClient(VersionApi);
  let known: { major: string; minor: string; gitVersion: string } | undefined;
  let stopped = false;
  return {
    get: () => known,
    async start() {
      for (let attempt = 0; !stopped && known === undefined; attempt++) {
        try {
          const info = await api.getCode();
          known = { major: info.major, minor: info.minor, gitVersion: info.gitVersion };
          logger.info({ version: info.gitVersion }, "API server version");
        } catch (err) {
          const wait = backoffDelay(attempt, 500, 30_000, Math.random);
          logger.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: wait }, "reading the API server version failed");
          await delay(wait);
        }
      }
    },
    stop() {
      stopped = true;
    },
  };
}
