// A simulated kubelet for one node. It follows the pods bound to its node through an informer
// against the API server; for each new pod it writes the pod's projected and downwardAPI volumes
// into a per-pod directory (and mounts image volumes from the images it can pull, hook-image.ts),
// starts the app as a real process serving on the pod's containerPort (handing it the
// listener bound for that port when the pod was written, see ports.ts), and reports the pod
// Running and Ready with the simulation's pod address (127.0.0.1, or podip.ts's against a
// kubeconfig). When the pod gets a deletionTimestamp it does what the
// kubelet does: the container's preStop exactly as the pod spec says (an exec command — the real
// hook binary — or the native sleep action), then SIGTERM, SIGKILL when the grace period is over,
// and finally deletes the pod with grace 0. `shutdownNode` plays graceful node shutdown as the
// kubelet does it (docs/operations.md, "Terminations the oracle tells apart"): the Node turns
// Ready=False, each pod is stopped the same way but with a grace-period override and no DELETE, and
// once its containers have stopped the kubelet reports it Failed with DisruptionTarget.
import type { ChildProcess } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { makeInformer, type KubeConfig, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { spawnApp, waitListening } from "./appprocess.ts";
import type { Children } from "./children.ts";
import type { SimApi } from "./api.ts";
import type { Listeners } from "./ports.ts";
import type { ImageStore } from "./hook-image.ts";
import { hookOptions, materialiseVolumes, rewriteCommand, type Mounted } from "./volumes.ts";

export interface PodTimes {
  readonly pod: string;
  startedAt?: number;
  readyAt?: number;
  deletionSeenAt?: number;
  preStop?: string;
  preStopDoneAt?: number;
  sigtermAt?: number;
  exitedAt?: number;
  killed?: boolean;
  finishedAt?: number;
  hookLog?: string;
}

export type KubeletEvent =
  | { readonly type: "started"; readonly pod: string; readonly port: number }
  | { readonly type: "preStop"; readonly pod: string; readonly what: string }
  | { readonly type: "sigterm"; readonly pod: string; readonly afterMs: number }
  | { readonly type: "finished"; readonly pod: string; readonly hookLog?: string }
  | { readonly type: "warning"; readonly pod: string; readonly message: string };

export interface KubeletOptions {
  readonly kc: KubeConfig;
  readonly api: SimApi;
  readonly namespace: string;
  readonly nodeName: string;
  readonly podIp: string;
  /** The node's address, reported as the pod's hostIP. */
  readonly hostIp: string;
  readonly rootDir: string;
  readonly children: Children;
  /** Where the listener bound for each pod's containerPort is held until its app takes it. */
  readonly listeners: Listeners;
  readonly appLatencyMs: number;
  readonly now: () => number;
  /** The images this node can pull for image volumes (hook-image.ts); none unless given. */
  readonly images?: ImageStore;
  readonly onEvent?: (event: KubeletEvent) => void;
}

export interface NodeShutdown {
  /** The regular pods' share of shutdownGracePeriod: shutdownGracePeriod - shutdownGracePeriodCriticalPods. */
  readonly graceOverrideSeconds: number;
}

export interface Kubelet {
  readonly times: ReadonlyMap<string, PodTimes>;
  /** Graceful node shutdown: resolves once every pod of the node has stopped and been reported. */
  shutdownNode(shutdown: NodeShutdown): Promise<void>;
  /** Pods whose shutdown is still running. */
  busy(): number;
  stop(): Promise<void>;
}

interface Running {
  /** The pod as last seen: the kubelet kills it from its own copy when no deletion comes. */
  pod: V1Pod;
  readonly times: PodTimes;
  readonly app: ChildProcess;
  readonly mounted: readonly Mounted[];
  readonly dir: string;
  terminating: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Sleeps until `at` by `clock`: a timer can fire up to a millisecond early by performance.now()
 * (libuv's loop time is kept in whole milliseconds), and a `sleep: 5` preStop must last 5 s.
 */
async function sleepUntil(at: number, clock: () => number): Promise<void> {
  while (clock() < at) await sleep(Math.max(1, at - clock()));
}

export async function startKubelet(options: KubeletOptions): Promise<Kubelet> {
  const { kc, api, children, now } = options;
  const core = kc.makeApiClient(CoreV1Api);
  const running = new Map<string, Running>();
  const times = new Map<string, PodTimes>();
  const starting = new Map<string, V1Pod | undefined>();
  const work = new Set<Promise<void>>();
  const emit = (e: KubeletEvent): void => options.onEvent?.(e);
  let stopped = false;

  const track = (p: Promise<void>, pod: string): void => {
    const guarded = p.catch((err: unknown) => {
      emit({ type: "warning", pod, message: err instanceof Error ? err.message : String(err) });
    });
    work.add(guarded);
    void guarded.finally(() => work.delete(guarded));
  };

  const start = async (pod: V1Pod, name: string, uid: string): Promise<void> => {
    const container = pod.spec?.containers[0];
    const port = container?.ports?.[0]?.containerPort;
    if (!container || port === undefined) throw new Error(`pod ${name}: first container has no containerPort`);
    const t: PodTimes = { pod: name };
    times.set(name, t);
    const dir = join(options.rootDir, `${name}-${uid.slice(0, 8)}`);
    await mkdir(dir, { recursive: true });
    const mounted = await materialiseVolumes(
      dir,
      { uid, name, namespace: options.namespace },
      pod.spec?.volumes ?? [],
      container.volumeMounts ?? [],
      (cm) => api.readConfigMap(options.namespace, cm),
      (message) => { emit({ type: "warning", pod: name, message }); },
      options.images,
    );
    const listener = options.listeners.take(port);
    if (!listener) throw new Error(`pod ${name}: no listener is held for its containerPort ${String(port)}`);
    const app = spawnApp(children, listener, options.appLatencyMs);
    t.startedAt = now();
    running.set(uid, { pod, times: t, app, mounted, dir, terminating: false });
    const serving = await waitListening(app);
    if (serving !== port) throw new Error(`pod ${name}: its app serves on port ${String(serving)}, not on its containerPort ${String(port)}`);
    emit({ type: "started", pod: name, port });
    await api.setPodReady(options.namespace, name, options.podIp, options.hostIp);
    t.readyAt = now();
  };

  const runPreStop = async (pod: V1Pod, r: Running, deadline: number): Promise<void> => {
    const preStop = pod.spec?.containers[0]?.lifecycle?.preStop;
    const name = r.times.pod;
    if (preStop?.exec?.command) {
      const original = preStop.exec.command;
      const rewritten = rewriteCommand(original, r.mounted);
      const logFile = join(r.dir, "hook.log");
      // Options for this machine only go to the mounted hook binary, never to a user's own command.
      // The volume the command runs from is the hook's own (the pod may mount others, such as the
      // service-account token); only the mounted hook binary gets this machine's options.
      const own = r.mounted.find((m) => original[0]?.startsWith(`${m.mountPath}/`));
      const command = own ? hookOptions(rewritten, own.dir, logFile) : rewritten;
      r.times.preStop = `exec ${original.join(" ")}`;
      emit({ type: "preStop", pod: name, what: r.times.preStop });
      const [file, ...args] = command;
      if (file === undefined) return;
      const hook = children.spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      const collect = (chunk: Buffer): void => {
        output += chunk.toString();
      };
      hook.stdout?.on("data", collect);
      hook.stderr?.on("data", collect);
      const timer = setTimeout(() => children.signal(hook, "SIGKILL"), Math.max(0, deadline - now()));
      await children.exited(hook);
      clearTimeout(timer);
      r.times.hookLog = `${(await readFile(logFile, "utf8").catch(() => "")).trim()} ${output.trim()}`.trim();
    } else if (preStop?.sleep) {
      r.times.preStop = `sleep ${String(preStop.sleep.seconds)}s`;
      emit({ type: "preStop", pod: name, what: r.times.preStop });
      await sleepUntil(Math.min(now() + preStop.sleep.seconds * 1000, deadline), now);
    }
  };

  /** preStop, SIGTERM, SIGKILL at the end of the grace period: the kubelet's killContainer. */
  const stopContainer = async (pod: V1Pod, r: Running, graceS: number): Promise<void> => {
    const name = r.times.pod;
    r.times.deletionSeenAt = now();
    const deadline = now() + graceS * 1000;
    await runPreStop(pod, r, deadline);
    r.times.preStopDoneAt = now();
    children.signal(r.app, "SIGTERM");
    r.times.sigtermAt = now();
    emit({ type: "sigterm", pod: name, afterMs: r.times.sigtermAt - r.times.deletionSeenAt });
    // The kubelet grants at least 2 s after a preStop hook that used up the grace period.
    const killTimer = setTimeout(() => {
      r.times.killed = children.signal(r.app, "SIGKILL");
    }, Math.max(2000, deadline - now()));
    await children.exited(r.app);
    clearTimeout(killTimer);
    r.times.exitedAt = now();
  };

  const terminate = async (pod: V1Pod, r: Running): Promise<void> => {
    const name = r.times.pod;
    await stopContainer(pod, r, pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30);
    await api.finishPod(options.namespace, name);
    r.times.finishedAt = now();
    emit({ type: "finished", pod: name, ...(r.times.hookLog ? { hookLog: r.times.hookLog } : {}) });
  };

  const onPod = (pod: V1Pod): void => {
    const uid = pod.metadata?.uid;
    const name = pod.metadata?.name;
    if (stopped || !uid || !name || pod.spec?.nodeName !== options.nodeName) return;
    const r = running.get(uid);
    if (!r) {
      // A pod deleted while it starts is shut down once it has started.
      if (starting.has(uid)) {
        if (pod.metadata?.deletionTimestamp) starting.set(uid, pod);
        return;
      }
      if (pod.metadata?.deletionTimestamp) return;
      starting.set(uid, undefined);
      track(
        start(pod, name, uid).finally(() => {
          const deleted = starting.get(uid);
          starting.delete(uid);
          if (deleted) onPod(deleted);
        }),
        name,
      );
      return;
    }
    r.pod = pod;
    if (pod.metadata?.deletionTimestamp && !r.terminating) {
      r.terminating = true;
      track(terminate(pod, r), name);
    }
  };

  const informer = makeInformer<V1Pod>(kc, `/api/v1/namespaces/${options.namespace}/pods`, () => core.listNamespacedPod({ namespace: options.namespace }));
  informer.on("add", onPod);
  informer.on("update", onPod);
  informer.on("error", () => {
    if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 200);
  });
  await informer.start();

  /** The shutdown manager's killPodFunc: the pod's own grace or the override, whichever is shorter. */
  const killForShutdown = async (r: Running, shutdown: NodeShutdown): Promise<void> => {
    const own = r.pod.spec?.terminationGracePeriodSeconds ?? 30;
    await stopContainer(r.pod, r, Math.min(own, shutdown.graceOverrideSeconds));
    await api.reportKilledByKubelet(options.namespace, r.times.pod);
    r.times.finishedAt = now();
    emit({ type: "finished", pod: r.times.pod, ...(r.times.hookLog ? { hookLog: r.times.hookLog } : {}) });
  };

  return {
    times,
    async shutdownNode(shutdown) {
      // The kubelet syncs the node's status before it kills pods.
      await api.setNodeNotReady(options.nodeName, "node is shutting down");
      const kills: Promise<void>[] = [];
      for (const r of running.values()) {
        if (r.terminating) continue;
        r.terminating = true;
        const p = killForShutdown(r, shutdown);
        track(p, r.times.pod);
        kills.push(p);
      }
      await Promise.allSettled(kills);
    },
    busy: () => [...running.values()].filter((r) => r.terminating && r.times.finishedAt === undefined).length,
    async stop() {
      stopped = true;
      await informer.stop();
      for (const r of running.values()) children.signal(r.app, "SIGKILL");
      // Bounded: a killed process exits at once; the work left is API calls to a closing server.
      const apps = [...running.values()].map((r) => children.exited(r.app));
      await Promise.race([Promise.all([...work, ...apps]), sleep(5000)]);
    },
  };
}
