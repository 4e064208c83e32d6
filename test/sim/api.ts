import { reportKilledByKubelet } from "../support/cluster.ts";
import { ApiException, CoreV1Api, V1ContainerStatus, V1HostIP, V1PodCondition, V1PodIP, V1PodStatus, type KubeConfig } from "@kubernetes/client-node";

// The few API calls the simulation's kubelet and Deployment driver make, as a real kubelet and
// controller would make them.
export interface SimApi {
  /** A ConfigMap's data and decoded binaryData; undefined when it does not exist. */
  readConfigMap(namespace: string, name: string): Promise<ReadonlyMap<string, Buffer> | undefined>;
  setPodReady(namespace: string, name: string, ip: string, hostIp: string): Promise<void>;
  /** Deletes the pod with grace 0, as the kubelet does once its containers have stopped. */
  finishPod(namespace: string, name: string): Promise<void>;
  /** The terminal status the kubelet reports for a pod it killed itself (no DELETE). */
  reportKilledByKubelet(namespace: string, name: string): Promise<void>;
  /** The node's Ready condition turned False by its own kubelet, with the message given. */
  setNodeNotReady(name: string, message: string): Promise<void>;
}

export function statusCode(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** Awaits a request whose 404 means the work is done (a delete of what is already gone). */
export async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}

const conflictRetries = 5;

/** Read-modify-write against the API: a 409 (someone wrote in between) is retried a few times. */
async function retryConflicts(what: string, write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await write();
      return;
    } catch (err) {
      if (statusCode(err) !== 409 || attempt >= conflictRetries) throw new Error(`${what}: ${String(err)}`, { cause: err });
    }
  }
}

export function makeSimApi(kc: KubeConfig): SimApi {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async readConfigMap(namespace, name) {
      try {
        const cm = await core.readNamespacedConfigMap({ namespace, name });
        const files = new Map<string, Buffer>();
        for (const [k, v] of Object.entries(cm.data ?? {})) files.set(k, Buffer.from(v, "utf8"));
        for (const [k, v] of Object.entries(cm.binaryData ?? {})) files.set(k, Buffer.from(v, "base64"));
        return files;
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw new Error(`read ConfigMap ${namespace}/${name}: ${String(err)}`, { cause: err });
      }
    },
    async setPodReady(namespace, name, ip, hostIp) {
      for (let attempt = 0; ; attempt++) {
        const pod = await core.readNamespacedPod({ namespace, name });
        const now = new Date();
        const condition = (type: string): V1PodCondition => Object.assign(new V1PodCondition(), { type, status: "True", lastTransitionTime: now });
        const containers = (pod.spec?.containers ?? []).map((c) =>
          Object.assign(new V1ContainerStatus(), { name: c.name, image: c.image ?? "", imageID: "", ready: true, started: true, restartCount: 0 }),
        );
        pod.status = Object.assign(new V1PodStatus(), {
          phase: "Running",
          podIP: ip,
          podIPs: [Object.assign(new V1PodIP(), { ip })],
          hostIP: hostIp,
          hostIPs: [Object.assign(new V1HostIP(), { ip: hostIp })],
          startTime: now,
          conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(condition),
          containerStatuses: containers,
        });
        try {
          await core.replaceNamespacedPodStatus({ namespace, name, body: pod });
          return;
        } catch (err) {
          if (statusCode(err) !== 409 || attempt >= conflictRetries) throw new Error(`set pod ${namespace}/${name} ready: ${String(err)}`, { cause: err });
        }
      }
    },
    async reportKilledByKubelet(namespace, name) {
      await retryConflicts(`report pod ${namespace}/${name} killed by the kubelet`, () => reportKilledByKubelet(kc, namespace, name));
    },
    async setNodeNotReady(name, message) {
      await retryConflicts(`set node ${name} not ready`, async () => {
        const node = await core.readNode({ name });
        const now = new Date();
        const others = (node.status?.conditions ?? []).filter((c) => c.type !== "Ready");
        node.status = { ...node.status, conditions: [...others, { type: "Ready", status: "False", reason: "KubeletNotReady", message, lastHeartbeatTime: now, lastTransitionTime: now }] };
        await core.replaceNodeStatus({ name, body: node });
      });
    },
    async finishPod(namespace, name) {
      try {
        await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
      } catch (err) {
        if (statusCode(err) !== 404) throw new Error(`finish pod ${namespace}/${name}: ${String(err)}`, { cause: err });
      }
    },
  };
}
