// What `kubectl apply -k manifests/` leaves in a cluster, as far as the controller reads it, on a
// cluster of two nodes: the starting point of the tests that run the real controller.
import { KubernetesObjectApi, type KubeConfig } from "@kubernetes/client-node";
import { createNode } from "../support/cluster.ts";
import type { K8sObject } from "./render.ts";

export async function applyInstall(kc: KubeConfig, rendered: readonly K8sObject[]): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  for (const kind of ["Namespace", "Service", "MutatingWebhookConfiguration"]) {
    for (const o of rendered.filter((x) => x.kind === kind)) await objects.create(o);
  }
  await createNode(kc, { name: "node-a", ip: "192.168.1.10" });
  await createNode(kc, { name: "node-b", ip: "192.168.1.11" });
}
