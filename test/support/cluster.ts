// The cluster the integration tests run against: the in-repo fake API server by default, or a real
// control plane when LAMEDUCK_TEST_KUBECONFIG names a kubeconfig (a kube-apiserver and
// kube-controller-manager with admin rights and no kubelets). Tests play scheduler and kubelet
// through ordinary API calls (pods/binding, pods/status, delete with grace 0), so the helpers below
// behave the same on both.
import { readFileSync } from "node:fs";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import type { V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from "@kubernetes/client-node";
import { startFakeApi } from "../fakeapi/index.ts";
import type { FakeApi, FakeApiOptions } from "../fakeapi/index.ts";

export interface Cluster {
  readonly kc: KubeConfig;
  readonly kubeconfigYaml: string;
  /** Present only against the fake: fault knobs and the request log. */
  readonly fake?: FakeApi;
  close(): Promise<void>;
}

/** The environment variable that points the integration suite at a real control plane. */
export const realClusterVariable = "LAMEDUCK_TEST_KUBECONFIG";

/**
 * Starts the fake, or loads the real cluster's kubeconfig when `kubeconfigPath` (by default the
 * LAMEDUCK_TEST_KUBECONFIG variable, read here once for the whole suite) is set.
 */
export async function startCluster(options: FakeApiOptions & { kubeconfigPath?: string | undefined } = {}): Promise<Cluster> {
  const { kubeconfigPath = process.env[realClusterVariable], ...fakeOptions } = options;
  if (kubeconfigPath !== undefined && kubeconfigPath !== "") {
    const yaml = readFileSync(kubeconfigPath, "utf8");
    const kc = new KubeConfig();
    kc.loadFromString(yaml);
    return { kc, kubeconfigYaml: yaml, close: () => Promise.resolve() };
  }
  const fake = await startFakeApi(fakeOptions);
  return { kc: fake.kubeConfig(), kubeconfigYaml: fake.kubeconfigYaml(), fake, close: () => fake.close() };
}

/** True when the suite targets a real control plane; tests that need fault knobs skip themselves then. */
export function targetsRealCluster(): boolean {
  const v = process.env[realClusterVariable];
  return v !== undefined && v !== "";
}

/** A fresh namespace with a generated name, so runs against a shared real cluster do not collide. */
export async function createNamespace(kc: KubeConfig, prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const ns = await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { generateName: `${prefix}-`, labels } } });
  return ns.metadata?.name ?? "";
}

/**
 * Deletes a namespace and plays the kubelet for the pods in it (a real cluster without kubelets
 * would keep them, and so the namespace, terminating forever), then waits until it is gone.
 */
export async function deleteNamespace(kc: KubeConfig, name: string, timeoutMs = 30_000): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespace({ name }).catch(ignoreNotFound);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pods = await core.listNamespacedPod({ namespace: name }).catch(() => undefined);
    for (const p of pods?.items ?? []) {
      // A finalizer whose controller is not running (e.g. a Job's job-tracking) would keep the pod,
      // and so the namespace, forever; the test owns this namespace, so it lets go.
      if ((p.metadata?.finalizers ?? []).length > 0) {
        await core.patchNamespacedPod({ name: p.metadata?.name ?? "", namespace: name, body: [{ op: "remove", path: "/metadata/finalizers" }] }).catch(() => undefined);
      }
      await finishPod(kc, name, p.metadata?.name ?? "");
    }
    const exists = await core.readNamespace({ name }).then(() => true, () => false);
    if (!exists) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`namespace ${name} still exists ${timeoutMs} ms after its deletion`);
}

export interface NodeSpec {
  readonly name: string;
  readonly arch?: "amd64" | "arm64";
  readonly ip: string;
  readonly zone?: string;
}

/** A Node object as a kubelet registers it: labels, then a Ready status with its address. */
export async function createNode(kc: KubeConfig, spec: NodeSpec): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const arch = spec.arch ?? "amd64";
  const labels: Record<string, string> = { "kubernetes.io/arch": arch, "kubernetes.io/os": "linux", "kubernetes.io/hostname": spec.name };
  if (spec.zone !== undefined) labels["topology.kubernetes.io/zone"] = spec.zone;
  const node = await core.createNode({ body: { metadata: { name: spec.name, labels } } });
  const now = new Date();
  node.status = {
    addresses: [{ type: "InternalIP", address: spec.ip }, { type: "Hostname", address: spec.name }],
    conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: now, lastTransitionTime: now }],
    nodeInfo: { architecture: arch, operatingSystem: "linux", bootID: "", containerRuntimeVersion: "fake://1", kernelVersion: "", kubeProxyVersion: "", kubeletVersion: "v1.36.2", machineID: "", osImage: "fake", systemUUID: "" },
  };
  await core.replaceNodeStatus({ name: spec.name, body: node });
}

export interface RunPodOptions {
  readonly node: string;
  readonly ip: string;
  /** Readiness as the kubelet reports it after probes; default true. */
  readonly ready?: boolean;
}

function podStatus(pod: V1Pod, hostIP: string, ip: string, ready: boolean): V1PodStatus {
  const now = new Date();
  const cond = (type: string, ok: boolean): V1PodCondition => ({ type, status: ok ? "True" : "False", lastTransitionTime: now });
  const containerStatuses: V1ContainerStatus[] = (pod.spec?.containers ?? []).map((c) => ({
    name: c.name, image: c.image ?? "", imageID: "", ready, restartCount: 0, started: true, state: { running: { startedAt: now } },
  }));
  return {
    ...pod.status,
    phase: "Running",
    conditions: [cond("PodReadyToStartContainers", true), cond("Initialized", true), cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", true)],
    hostIP, hostIPs: [{ ip: hostIP }], podIP: ip, podIPs: [{ ip }], startTime: pod.status?.startTime ?? now,
    containerStatuses,
  };
}

/** Binds the pod to `node` (if not bound yet) and reports it Running with `ip`, Ready unless `ready: false`. */
export async function runPod(kc: KubeConfig, namespace: string, name: string, options: RunPodOptions): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  let pod = await core.readNamespacedPod({ name, namespace });
  if (pod.spec?.nodeName === undefined || pod.spec.nodeName === "") {
    await core.createNamespacedPodBinding({ name, namespace, body: { metadata: { name }, target: { kind: "Node", name: options.node } } });
    pod = await core.readNamespacedPod({ name, namespace });
  }
  const node = await core.readNode({ name: options.node });
  const hostIP = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address ?? "";
  pod.status = podStatus(pod, hostIP, options.ip, options.ready ?? true);
  return core.replaceNamespacedPodStatus({ name, namespace, body: pod });
}

/** Flips a running pod's readiness, as the kubelet does when a readiness probe changes. */
export async function setPodReady(kc: KubeConfig, namespace: string, name: string, ready: boolean): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const pod = await core.readNamespacedPod({ name, namespace });
  const now = new Date();
  pod.status = {
    ...pod.status,
    conditions: (pod.status?.conditions ?? []).map((c) => (c.type === "Ready" || c.type === "ContainersReady" ? { ...c, status: ready ? "True" : "False", lastTransitionTime: now } : c)),
    containerStatuses: (pod.status?.containerStatuses ?? []).map((c) => ({ ...c, ready })),
  };
  return core.replaceNamespacedPodStatus({ name, namespace, body: pod });
}

/** The kubelet's last word on a terminating pod: delete it with grace 0. A pod already gone is fine. */
export async function finishPod(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch(ignoreNotFound);
}

function ignoreNotFound(e: unknown): void {
  if (typeof e === "object" && e !== null && "code" in e && e.code === 404) return;
  throw e;
}

/**
 * What the kubelet writes when it has terminated a pod on its own — graceful node shutdown,
 * node-pressure eviction, kubelet preemption — once the containers stopped: a terminal phase, Ready
 * false and the DisruptionTarget condition, and no DELETE (the pod object stays). While the preStop
 * hook runs it writes nothing of this (pkg/kubelet/status/status_manager.go, mergePodStatus).
 */
export async function reportKilledByKubelet(
  kc: KubeConfig,
  namespace: string,
  name: string,
  why: { readonly reason: string; readonly message: string } = { reason: "Terminated", message: "Pod was terminated in response to imminent node shutdown." },
): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const pod = await core.readNamespacedPod({ name, namespace });
  const now = new Date();
  const notReady = (c: V1PodCondition): V1PodCondition => (c.type === "Ready" || c.type === "ContainersReady" ? { ...c, status: "False", reason: "PodFailed", lastTransitionTime: now } : c);
  pod.status = {
    ...pod.status,
    phase: "Failed",
    reason: why.reason,
    message: why.message,
    conditions: [
      ...(pod.status?.conditions ?? []).filter((c) => c.type !== "DisruptionTarget").map(notReady),
      { type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet", message: why.message, lastTransitionTime: now },
    ],
    containerStatuses: (pod.status?.containerStatuses ?? []).map((c) => ({ ...c, ready: false, started: false, state: { terminated: { exitCode: 143, reason: "Error", startedAt: c.state?.running?.startedAt ?? now, finishedAt: now } } })),
  };
  return core.replaceNamespacedPodStatus({ name, namespace, body: pod });
}
