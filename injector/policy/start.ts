// Policy mode in the running controller: every resync, discovery and the policy's presence decide
// the injector (mode.ts); in policy mode the keeper brings the policy up to date. Level-based, so a
// policy installed later, or an oracle address or hook version that changes, is picked up. The
// webhook keeps serving in either mode: on a pod the policy injected it finds the marker and
// every preStop set, and changes nothing.
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { backoffDelay } from "../backoff.ts";
import type { ClusterFacts } from "../cluster-facts.ts";
import { Injector, type RunConfig } from "../config.ts";
import type { Delay } from "../informers/informer.ts";
import type { Logger } from "../log.ts";
import { makePolicyKeeper, kubePolicyStore, type PolicyStore } from "./keeper.ts";
import { chooseInjector, servesMutatingPolicies, type InjectorChoice } from "./mode.ts";

export interface InjectorLoop {
  /** The current choice, undefined until discovery has answered once. */
  choice(): InjectorChoice | undefined;
  stop(): void;
}

export interface InjectorLoopDeps {
  readonly kc: KubeConfig;
  readonly config: RunConfig;
  readonly facts: ClusterFacts;
  readonly logger: Logger;
  /** Resolves once the caches the policy is computed from are synced. */
  readonly synced: () => Promise<unknown>;
  readonly resyncMs?: number;
  readonly delay?: Delay;
  readonly store?: PolicyStore;
  readonly served?: () => Promise<boolean>;
}

export function startInjectorLoop(deps: InjectorLoopDeps): InjectorLoop {
  const { config, logger } = deps;
  const delay = deps.delay ?? ((ms: number) => sleep(ms, undefined, { ref: false }));
  const store = deps.store ?? kubePolicyStore(deps.kc);
  const served = deps.served ?? (() => servesMutatingPolicies(deps.kc));
  const keeper = makePolicyKeeper({ store, config, facts: deps.facts, logger });
  let current: InjectorChoice | undefined;
  const state = { stopped: false };

  async function cycle(): Promise<void> {
    const choice = chooseInjector(config.injector, await served(), (await store.read()) !== undefined);
    if (current?.injector !== choice.injector || current.why !== choice.why) logger.info({ injector: choice.injector, why: choice.why }, "injector chosen");
    current = choice;
    if (choice.injector === Injector.policy) await keeper.reconcile();
  }

  void (async () => {
    await deps.synced();
    for (let failures = 0; !state.stopped;) {
      try {
        await cycle();
        failures = 0;
        await delay(deps.resyncMs ?? 30_000);
      } catch (err) {
        const wait = backoffDelay(failures++, 500, 30_000, Math.random);
        logger.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: wait }, "choosing the injector or updating the MutatingAdmissionPolicy failed");
        await delay(wait);
      }
    }
  })();
  return {
    choice: () => current,
    stop() {
      state.stopped = true;
    },
  };
}
