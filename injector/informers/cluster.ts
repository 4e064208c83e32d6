// The informers the controller runs (one list-watch per resource, shared by webhook facts,
// distributor, oracle), each keeping only what lameduck reads of its objects (lean.ts).
import type { KubeConfig } from "@kubernetes/client-node";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../log.ts";
import { Label, managedByValue } from "../names.ts";
import { makeRawClient, makeTransport, type RawClient } from "./client.ts";
import { makeInformer, registerFailingGauge, type Delay, type Informer, type InformerDeps } from "./informer.ts";
import {
  leanConfigMap,
  leanEndpointSlice,
  leanNamespace,
  leanNode,
  leanService,
  type Lean,
  type LeanConfigMap,
  type LeanEndpointSlice,
  type LeanNamespace,
  type LeanNode,
  type LeanService,
} from "./lean.ts";

export interface ClusterInformers {
  readonly namespaces: Informer<LeanNamespace>;
  readonly nodes: Informer<LeanNode>;
  readonly endpointSlices: Informer<LeanEndpointSlice>;
  /** Only ConfigMaps labelled app.kubernetes.io/managed-by=lameduck, cluster-wide, metadata only. */
  readonly configMaps: Informer<LeanConfigMap>;
  /** Services of the controller's own namespace (to learn the oracle's ClusterIP). */
  readonly services: Informer<LeanService>;
  readonly all: readonly InformerLifecycle[];
  hasSynced(): boolean;
  /** The resources whose cache has not synced yet. */
  unsynced(): readonly string[];
  /** The resources whose cache has not been able to list and watch for longer than `boundMs`. */
  stale(boundMs: number): readonly string[];
  start(): void;
  stop(): Promise<void>;
}

export interface ClusterInformersDeps {
  readonly kc: KubeConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Namespace whose Services are watched (the controller's own). */
  readonly namespace: string;
  readonly delay?: Delay;
  readonly random?: () => number;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  readonly now?: () => number;
  readonly client?: RawClient;
}

export type InformerLifecycle = Pick<Informer<Lean>, "hasSynced" | "synced" | "start" | "stop" | "failingSince">;

export const managedSelector = `${Label.managedBy}=${managedByValue}`;

// A ConfigMap may hold a megabyte, and anyone may label theirs as lameduck's: a page of 25 is at
// most ~35 MB of JSON, parsed and trimmed before the next page is asked for.
const configMapPageSize = 5;

export function makeClusterInformers(deps: ClusterInformersDeps): ClusterInformers {
  const now = deps.now ?? (() => performance.now());
  const restarts = new Counter({
    name: "lameduck_informer_restarts_total",
    help: "List-watch restarts after an error, by resource.",
    labelNames: ["resource"] as const,
    registers: [deps.registry],
  });
  const transport = makeTransport(deps.kc);
  const informerDeps: InformerDeps = {
    transport,
    client: deps.client ?? makeRawClient(deps.kc, transport),
    logger: deps.logger,
    restarts,
    now,
    ...(deps.delay === undefined ? {} : { delay: deps.delay }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
    ...(deps.backoff === undefined ? {} : { backoff: deps.backoff }),
  };
  const ns = encodeURIComponent(deps.namespace);
  const namespaces = makeInformer({ resource: "namespaces", path: "/api/v1/namespaces", transform: leanNamespace }, informerDeps);
  const nodes = makeInformer({ resource: "nodes", path: "/api/v1/nodes", transform: leanNode }, informerDeps);
  const endpointSlices = makeInformer({ resource: "endpointslices", path: "/apis/discovery.k8s.io/v1/endpointslices", transform: leanEndpointSlice }, informerDeps);
  const configMaps = makeInformer(
    { resource: "configmaps", path: "/api/v1/configmaps", labelSelector: managedSelector, pageSize: configMapPageSize, metadataOnly: true, transform: leanConfigMap },
    informerDeps,
  );
  const services = makeInformer({ resource: "services", path: `/api/v1/namespaces/${ns}/services`, transform: leanService }, informerDeps);
  const named = [
    { resource: "namespaces", informer: namespaces },
    { resource: "nodes", informer: nodes },
    { resource: "endpointslices", informer: endpointSlices },
    { resource: "configmaps", informer: configMaps },
    { resource: "services", informer: services },
  ] as const;
  registerFailingGauge(deps.registry, named, now);
  const all: readonly InformerLifecycle[] = named.map((n) => n.informer);
  return {
    namespaces,
    nodes,
    endpointSlices,
    configMaps,
    services,
    all,
    hasSynced: () => all.every((i) => i.hasSynced()),
    unsynced: () => named.flatMap(({ resource, informer }) => (informer.hasSynced() ? [] : [resource])),
    stale(boundMs) {
      const t = now();
      return named.flatMap(({ resource, informer }) => {
        const since = informer.failingSince();
        return since !== undefined && t - since > boundMs ? [resource] : [];
      });
    },
    start: () => {
      for (const i of all) i.start();
    },
    stop: async () => {
      await Promise.all(all.map((i) => i.stop()));
    },
  };
}
