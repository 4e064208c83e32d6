// The simulated cluster's control plane: the in-repo API server (it also runs the EndpointSlice
// controller and calls registered webhooks), one node, the application namespace and a ClusterIP
// Service whose named targetPort resolves to each pod's own containerPort.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KubernetesObjectApi, type KubeConfig } from "@kubernetes/client-node";
import { startFakeApi, type FakeApi } from "../fakeapi/index.ts";
import { createNode } from "../support/cluster.ts";

export interface SimCluster {
  readonly fake: FakeApi;
  readonly kc: KubeConfig;
  readonly kubeconfigPath: string;
  readonly namespace: string;
  readonly nodeName: string;
  readonly service: string;
  close(): Promise<void>;
}

export const simNamespace = "shop";
export const simService = "web";
export const simNode = "sim-node";
// The node's address is not the address the simulated kube-proxy connects from (127.0.0.1), so the
// hook's quiet phase, which ignores the node's own connections (kubelet probes), counts every
// proxied connection, as it counts every client's in a cluster.
export const simNodeIp = "127.0.0.2";

export async function startSimCluster(dir: string): Promise<SimCluster> {
  const fake = await startFakeApi({ host: "127.0.0.1", port: 0 });
  const kc = fake.kubeConfig();
  const kubeconfigPath = join(dir, "kubeconfig");
  await writeFile(kubeconfigPath, fake.kubeconfigYaml());
  const objects = KubernetesObjectApi.makeApiClient(kc);
  await createNode(kc, { name: simNode, ip: simNodeIp, arch: "amd64" });
  await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: simNamespace } });
  await objects.create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: simService, namespace: simNamespace },
    spec: { selector: { app: simService }, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
  } as Parameters<typeof objects.create>[0]);
  return { fake, kc, kubeconfigPath, namespace: simNamespace, nodeName: simNode, service: simService, close: () => fake.close() };
}
