// The simulated cluster's control plane: by default the in-repo API server (it also runs the
// EndpointSlice controller and calls registered webhooks) started for one scenario; or any API
// server given by a kubeconfig, of which nothing is assumed beyond a kube-controller-manager running
// its EndpointSlice controller. Either way the simulation registers its own nodes, an application
// namespace and a ClusterIP Service whose named targetPort resolves to each pod's own containerPort,
// and does everything else through the API as kubelets and controllers do.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, KubernetesObjectApi } from "@kubernetes/client-node";
import { startFakeApi } from "../fakeapi/index.ts";
import { createNode } from "../support/cluster.ts";
import { ignoreNotFound } from "./api.ts";

export interface SimCluster {
  readonly kc: KubeConfig;
  readonly kubeconfigPath: string;
  readonly namespace: string;
  readonly nodeName: string;
  readonly service: string;
  /** What the simulated pods report as podIP and serve on (podip.ts). */
  readonly podIp: string;
  close(): Promise<void>;
}

/**
 * Where a scenario's control plane comes from. With a kubeconfig, the pods' address is one of this
 * machine's that a real API server accepts as an endpoint (podip.ts, choosePodIp).
 */
export type SimTarget = { readonly kind: "in-repo" } | { readonly kind: "kubeconfig"; readonly path: string; readonly podIp: string };
export const inRepoTarget: SimTarget = { kind: "in-repo" };

export const simNamespace = "shop";
export const simService = "web";
export const simNode = "sim-node";
// The node's address is not the address the simulated kube-proxy connects from (the pod's own,
// 127.0.0.1 or the kubeconfig mode's pod IP), so the hook's quiet phase, which ignores the node's
// own connections (kubelet probes), counts every proxied connection, as it counts every client's in
// a cluster. A real API server takes a loopback node address: Node validation checks the status
// addresses for duplicates only, not their range (unlike an EndpointSlice's).
export const simNodeIp = "127.0.0.2";
/** Every node name the simulation registers: a kubeconfig's cluster may hold these and no others. */
export const simNodeNames: readonly string[] = [simNode, "sim-node-a", "sim-node-b"];

export interface SimNode {
  readonly name: string;
  readonly ip: string;
  /** kubernetes.io/arch; amd64 unless said otherwise. */
  readonly arch?: "amd64" | "arm64";
}

export class ForeignClusterError extends Error {
  override name = "ForeignClusterError";
}

const defaultNodes: readonly SimNode[] = [{ name: simNode, ip: simNodeIp }];

async function createApp(kc: KubeConfig, namespace: string, nodes: readonly SimNode[]): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  for (const node of nodes) await createNode(kc, { ...node, arch: node.arch ?? "amd64" });
  await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  await objects.create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: simService, namespace },
    spec: { selector: { app: simService }, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
  } as Parameters<typeof objects.create>[0]);
}

export async function startSimCluster(dir: string, nodes: readonly SimNode[] = defaultNodes, target: SimTarget = inRepoTarget): Promise<SimCluster> {
  const nodeName = nodes[0]?.name ?? simNode;
  if (target.kind === "kubeconfig") return connectSimCluster(target, nodes, nodeName);
  // Its pods serve on 127.0.0.1, which only a simulation on loopback can offer (the tests'
  // network rule); a real server's controller could not publish them.
  const fake = await startFakeApi({ host: "127.0.0.1", port: 0, allowLoopbackEndpoints: true });
  const kc = fake.kubeConfig();
  const kubeconfigPath = join(dir, "kubeconfig");
  await writeFile(kubeconfigPath, fake.kubeconfigYaml());
  await createApp(kc, simNamespace, nodes);
  return { kc, kubeconfigPath, namespace: simNamespace, nodeName, service: simService, podIp: "127.0.0.1", close: () => fake.close() };
}

/**
 * Refuses a cluster with any node that is not one of the simulation's own, naming it: the
 * simulation creates and force-deletes pods and nodes, which must never happen on a real cluster.
 */
export async function checkSimOnly(kc: KubeConfig, path: string): Promise<void> {
  const nodes = await kc.makeApiClient(CoreV1Api).listNode();
  const foreign = nodes.items.map((n) => n.metadata?.name ?? "").find((name) => !simNodeNames.includes(name));
  if (foreign !== undefined) {
    throw new ForeignClusterError(
      `${path} (context "${kc.getCurrentContext()}"): the cluster has node "${foreign}", which is not one of the simulation's own (${simNodeNames.join(", ")}); refusing to run the simulation against what may be a real cluster`,
    );
  }
}

async function connectSimCluster(target: { readonly path: string; readonly podIp: string }, nodes: readonly SimNode[], nodeName: string): Promise<SimCluster> {
  const { path } = target;
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  await checkSimOnly(kc, path);
  const core = kc.makeApiClient(CoreV1Api);
  // Left over by a run that was killed: registered afresh, as a kubelet re-registers its node.
  for (const node of nodes) await ignoreNotFound(core.deleteNode({ name: node.name }));
  // A namespace of its own per scenario: the server outlives scenarios, and a terminating namespace
  // cannot be reused at once.
  const namespace = `lameduck-sim-${randomBytes(3).toString("hex")}`;
  await createApp(kc, namespace, nodes);
  return {
    kc,
    kubeconfigPath: path,
    namespace,
    nodeName,
    service: simService,
    podIp: target.podIp,
    async close() {
      // The kubelets have stopped: nothing else would finish the pods, so they go with grace 0.
      const pods = await core.listNamespacedPod({ namespace });
      for (const pod of pods.items) await ignoreNotFound(core.deleteNamespacedPod({ namespace, name: pod.metadata?.name ?? "", gracePeriodSeconds: 0 }));
      await ignoreNotFound(core.deleteNamespace({ name: namespace }));
      for (const node of nodes) await ignoreNotFound(core.deleteNode({ name: node.name }));
    },
  };
}
