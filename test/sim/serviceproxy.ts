// The simulated kube-proxy fed by the Service's EndpointSlices as watched through the API, and when
// it stopped routing new connections to each pod: the propagation a preStop must outwait.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Endpoint } from "./endpoints.ts";
import { drawDelayMs, seededRandom, type Profile } from "./profile.ts";
import { Propagation, startProxy, type Proxy } from "./proxy.ts";
import { watchServiceSlices } from "./slicewatch.ts";

export interface ServiceProxyOptions {
  readonly kc: KubeConfig;
  readonly namespace: string;
  readonly service: string;
  readonly profile: Profile;
  readonly propagation: Propagation;
  readonly seed: number;
  readonly now: () => number;
}

export interface ServiceProxy {
  readonly proxy: Proxy;
  /** When the proxy stopped sending new connections to each pod, by pod name. */
  readonly unroutedAt: ReadonlyMap<string, number>;
  /** Resolves once the proxy routes to `count` endpoints (as a kube-proxy running all along would). */
  waitRouted(count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startServiceProxy(options: ServiceProxyOptions): Promise<ServiceProxy> {
  const { now } = options;
  const random = seededRandom(options.seed);
  const unroutedAt = new Map<string, number>();
  let routedPods = new Set<string>();
  const onApply = (endpoints: readonly Endpoint[]): void => {
    const current = new Set(endpoints.map((e) => e.pod));
    for (const pod of routedPods) if (!current.has(pod) && !unroutedAt.has(pod)) unroutedAt.set(pod, now());
    routedPods = current;
  };
  const proxy = await startProxy({ host: "127.0.0.1", portName: "http", drawDelayMs: () => drawDelayMs(options.profile, random), onApply, propagation: options.propagation });
  const slices = await watchServiceSlices(options.kc, options.namespace, options.service, (s) => {
    proxy.offer(s);
  }).catch(async (err: unknown) => {
    await proxy.close();
    throw err;
  });
  return {
    proxy,
    unroutedAt,
    async waitRouted(count, timeoutMs) {
      const deadline = now() + timeoutMs;
      for (;;) {
        proxy.syncNow(slices.current());
        if (proxy.routed().length >= count) return;
        if (now() > deadline) throw new Error(`the proxy never routed to ${String(count)} pods`);
        await sleep(50);
      }
    },
    async close() {
      await slices.stop();
      await proxy.close();
    },
  };
}
