// The set-up most tests of the cluster under test share: a cluster, a namespace of their own and a
// Node to bind pods to, named per process so that runs against a shared real cluster do not collide,
// all removed after the file's tests.
import { afterAll, beforeAll } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig, V1ObjectMeta, V1PodSpec } from "@kubernetes/client-node";
import { createNamespace, createNode, deleteNamespace, startCluster } from "./cluster.ts";
import type { Cluster, NodeSpec } from "./cluster.ts";

export interface ClusterSuite {
  readonly cluster: Cluster;
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly ns: string;
  /** The Node's name. */
  readonly node: string;
}

/** Registers the hooks; the accessors are valid inside tests. `node.name` gets the process id appended. */
export function clusterSuite(prefix: string, node: NodeSpec): ClusterSuite {
  const nodeName = `${node.name}-${String(process.pid)}`;
  let state: { cluster: Cluster; core: CoreV1Api; ns: string } | undefined;
  const ready = (): NonNullable<typeof state> => {
    if (state === undefined) throw new Error("clusterSuite: used outside a test");
    return state;
  };
  beforeAll(async () => {
    const cluster = await startCluster();
    const ns = await createNamespace(cluster.kc, prefix);
    await createNode(cluster.kc, { ...node, name: nodeName });
    state = { cluster, core: cluster.kc.makeApiClient(CoreV1Api), ns };
  });
  afterAll(async () => {
    if (state === undefined) return;
    await deleteNamespace(state.cluster.kc, state.ns);
    await state.core.deleteNode({ name: nodeName }).catch(() => undefined);
    await state.cluster.close();
  });
  return {
    get cluster() { return ready().cluster; },
    get kc() { return ready().cluster.kc; },
    get core() { return ready().core; },
    get ns() { return ready().ns; },
    node: nodeName,
  };
}

/** A one-container pod with these labels. */
export function simplePod(name: string, labels: Record<string, string> = {}): { metadata: V1ObjectMeta; spec: V1PodSpec } {
  return { metadata: { name, labels }, spec: { containers: [{ name: "app", image: "registry.example.invalid/app:1.0" }] } };
}
