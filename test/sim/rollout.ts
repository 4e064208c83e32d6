// A rolling update driven as a Deployment controller drives it with maxSurge 25% and
// maxUnavailable 0: create new pods (at most the surge at a time), wait until they are Ready and
// listed as ready endpoints, then delete as many old pods, and repeat. Like the Deployment
// controller it does not wait for a deleted pod to finish terminating before the next step; the
// rollout counts as complete when the last old pod is gone, which is when its node capacity is free.
import { CoreV1Api, DiscoveryV1Api, KubernetesObjectApi, type KubeConfig } from "@kubernetes/client-node";
import { statusCode } from "./api.ts";
import type { Listeners } from "./ports.ts";

export interface PodPlan {
  readonly name: string;
  readonly port: number;
}

export interface Workload {
  readonly app: string;
  readonly replicas: number;
  /** Whether a Service selects these pods: then "available" also means listed as a ready endpoint. */
  readonly served: boolean;
  /** The native sleep preStop in the pod template, as users add it by hand today. */
  readonly preStopSleepSeconds?: number;
  /** Pod template annotations, e.g. lameduck.dev/drain. */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface RolloutTimes {
  readonly startedAt: number;
  readonly endedAt: number;
  /** When the driver issued each old pod's DELETE. */
  readonly deletedAt: ReadonlyMap<string, number>;
}

export interface Rollout {
  createPods(version: string, count: number): Promise<string[]>;
  /** beforeBatch runs before each batch's new pods are created (index 0 first): a change mid-rollout. */
  rollTo(version: string, oldPods: readonly string[], beforeBatch?: (index: number) => Promise<void>): Promise<RolloutTimes>;
}

export interface RolloutOptions {
  readonly kc: KubeConfig;
  readonly namespace: string;
  readonly nodeName: string;
  readonly workload: Workload;
  /** Each new pod's containerPort is a listener bound here, which the kubelet hands to its app. */
  readonly listeners: Listeners;
  readonly now: () => number;
  readonly onProgress?: (message: string) => void;
  /** Bound on waiting for one pod to become available or to go away. */
  readonly waitTimeoutMs: number;
}

export interface PodManifest {
  readonly apiVersion: "v1";
  readonly kind: "Pod";
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: Readonly<Record<string, unknown>>;
}

export function podManifest(namespace: string, nodeName: string, workload: Workload, version: string, plan: PodPlan): PodManifest {
  const preStop = workload.preStopSleepSeconds === undefined ? {} : { lifecycle: { preStop: { sleep: { seconds: workload.preStopSleepSeconds } } } };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: plan.name, namespace, labels: { app: workload.app, version }, ...(workload.annotations === undefined ? {} : { annotations: workload.annotations }) },
    spec: {
      nodeName,
      // The API server defaults it to 30 for a Deployment's pods; the webhook sees it set.
      terminationGracePeriodSeconds: 30,
      containers: [{ name: "app", image: `sim/${workload.app}:${version}`, ports: [{ name: "http", containerPort: plan.port, protocol: "TCP" }], ...preStop }],
    },
  };
}

const pollMs = 50;

export function makeRollout(options: RolloutOptions): Rollout {
  const { kc, namespace, workload, now } = options;
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const progress = (m: string): void => options.onProgress?.(m);
  let serial = 0;

  // Why a wait may never end, as the cluster says it: a refused EndpointSlice, say
  // (FailedToUpdateEndpointSlices on the Service). The last three, each line bounded.
  const warnings = async (): Promise<string> => {
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: "type=Warning" }).catch(() => undefined);
    const lines = (events?.items ?? []).slice(-3).map((e) => `${e.reason ?? ""} (${e.involvedObject.kind ?? ""} ${e.involvedObject.name ?? ""}): ${(e.message ?? "").slice(0, 400)}`);
    return lines.length === 0 ? "" : `; Warning events in ${namespace}: ${lines.join(" | ")}`;
  };

  const waitFor = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const deadline = now() + options.waitTimeoutMs;
    while (!(await check())) {
      if (now() > deadline) throw new Error(`rollout of ${workload.app}: timed out waiting for ${what}${await warnings()}`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  };

  const available = async (name: string): Promise<boolean> => {
    const pod = await core.readNamespacedPod({ namespace, name });
    const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    if (!ready || !workload.served) return ready;
    const slices = await discovery.listNamespacedEndpointSlice({ namespace });
    return slices.items.some((s) => (s.endpoints ?? []).some((e) => e.targetRef?.name === name && e.conditions?.ready === true));
  };

  const gone = async (name: string): Promise<boolean> => {
    try {
      await core.readNamespacedPod({ namespace, name });
      return false;
    } catch (err) {
      if (statusCode(err) === 404) return true;
      throw err;
    }
  };

  const createPods = async (version: string, count: number): Promise<string[]> => {
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const plan = { name: `${workload.app}-${version}-${String(++serial)}`, port: await options.listeners.open() };
      await objects.create(podManifest(namespace, options.nodeName, workload, version, plan));
      names.push(plan.name);
    }
    for (const name of names) await waitFor(`pod ${name} to be available`, () => available(name));
    return names;
  };

  return {
    createPods,
    async rollTo(version, oldPods, beforeBatch) {
      const startedAt = now();
      const surge = Math.max(1, Math.ceil(workload.replicas * 0.25));
      const deletedAt = new Map<string, number>();
      const remaining = [...oldPods];
      for (let index = 0; remaining.length > 0; index++) {
        await beforeBatch?.(index);
        const batch = remaining.splice(0, surge);
        const created = await createPods(version, batch.length);
        progress(`${workload.app}: ${created.join(", ")} available; deleting ${batch.join(", ")}`);
        for (const name of batch) {
          deletedAt.set(name, now());
          await core.deleteNamespacedPod({ namespace, name });
        }
      }
      for (const name of oldPods) await waitFor(`pod ${name} to be gone`, () => gone(name));
      return { startedAt, endedAt: now(), deletedAt };
    },
  };
}
