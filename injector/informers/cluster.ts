// The informers the controller process shares: one list-watch per resource for the whole process,
// whichever part reads it (webhook facts, distributor, oracle).
import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1ConfigMap,
  type V1EndpointSlice,
  type V1Namespace,
  type V1Node,
  type V1Service,
} from "@kubernetes/client-node";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../log.ts";
import { Label, managedByValue } from "../names.ts";
import { makeInformer, type Delay, type Informer, type InformerDeps } from "./informer.ts";

export interface ClusterInformers {
  readonly namespaces: Informer<V1Namespace>;
  readonly nodes: Informer<V1Node>;
  readonly endpointSlices: Informer<V1EndpointSlice>;
  /** Only ConfigMaps labelled app.kubernetes.io/managed-by=lameduck, cluster-wide. */
  readonly configMaps: Informer<V1ConfigMap>;
  /** Services of the controller's own namespace (to learn the oracle's ClusterIP). */
  readonly services: Informer<V1Service>;
  readonly all: readonly InformerLifecycle[];
  hasSynced(): boolean;
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
}

export type InformerLifecycle = Pick<Informer<V1Namespace>, "hasSynced" | "synced" | "start" | "stop">;

export const managedSelector = `${Label.managedBy}=${managedByValue}`;

export function makeClusterInformers(deps: ClusterInformersDeps): ClusterInformers {
  const core = deps.kc.makeApiClient(CoreV1Api);
  const discovery = deps.kc.makeApiClient(DiscoveryV1Api);
  const restarts = new Counter({
    name: "lameduck_informer_restarts_total",
    help: "List-watch restarts after an error, by resource.",
    labelNames: ["resource"] as const,
    registers: [deps.registry],
  });
  const informerDeps: InformerDeps = {
    kc: deps.kc,
    logger: deps.logger,
    restarts,
    ...(deps.delay === undefined ? {} : { delay: deps.delay }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
    ...(deps.backoff === undefined ? {} : { backoff: deps.backoff }),
  };
  const ns = encodeURIComponent(deps.namespace);
  const namespaces = makeInformer({ resource: "namespaces", path: "/api/v1/namespaces", list: () => core.listNamespace() }, informerDeps);
  const nodes = makeInformer({ resource: "nodes", path: "/api/v1/nodes", list: () => core.listNode() }, informerDeps);
  const endpointSlices = makeInformer(
    { resource: "endpointslices", path: "/apis/discovery.k8s.io/v1/endpointslices", list: () => discovery.listEndpointSliceForAllNamespaces() },
    informerDeps,
  );
  const configMaps = makeInformer(
    {
      resource: "configmaps",
      path: "/api/v1/configmaps",
      labelSelector: managedSelector,
      list: () => core.listConfigMapForAllNamespaces({ labelSelector: managedSelector }),
    },
    informerDeps,
  );
  const services = makeInformer(
    { resource: "services", path: `/api/v1/namespaces/${ns}/services`, list: () => core.listNamespacedService({ namespace: deps.namespace }) },
    informerDeps,
  );
  const all: readonly InformerLifecycle[] = [namespaces, nodes, endpointSlices, configMaps, services];
  return {
    namespaces,
    nodes,
    endpointSlices,
    configMaps,
    services,
    all,
    hasSynced: () => all.every((i) => i.hasSynced()),
    start: () => {
      for (const i of all) i.start();
    },
    stop: async () => {
      await Promise.all(all.map((i) => i.stop()));
    },
  };
}
