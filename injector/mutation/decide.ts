// Whether and how to inject one pod: a pure decision from the pod, its namespace's policy, what the
// caches know about the cluster, and the process configuration. No I/O; the reason always comes back.
import { HookSourceKind, Mode, type HookSource } from "../config.ts";
import { formatDuration } from "../duration.ts";
import type { ClusterFacts } from "../cluster-facts.ts";
import { Annotation, HookKey, hookConfigMapName, type Arch } from "../names.ts";
import { isWindows, pinnedArch } from "./arch.ts";
import { defaultGracePeriodSeconds, type LifecycleHandler, type Pod } from "./pod.ts";
import { SkipReason, resolvePolicy, warningText, type Policy, type Settings } from "./policy.ts";
import { findHookVolume, freeMountPath, freeVolumeName, podinfoMountPath, podinfoVolumeName, type HookVolume, type Recognised } from "./volume.ts";

/** Static pods the kubelet mirrors into the API: the API server rejects changes to them. */
const mirrorAnnotation = "kubernetes.io/config.mirror";
export const markerVersion = "v1";
/**
 * The most containers (regular, init and ephemeral together) a pod may have for lameduck to patch it.
 * Pods carry a handful; the patch takes two operations per injected container, so this also keeps
 * it far below the 10,000 operations the API server accepts in a client's JSON patch. A larger pod
 * is allowed unchanged with a warning.
 */
export const maxContainers = 1000;

export const Handler = { wait: "wait", sleep: "sleep", nativeSleep: "native-sleep" } as const;
export type Handler = (typeof Handler)[keyof typeof Handler];

export interface Plan {
  /** Written into the `lameduck.dev/injected` marker. */
  readonly mode: Mode;
  readonly handler: Handler;
  /** The preStop every target container gets. */
  readonly preStop: LifecycleHandler;
  /** Regular containers that get the preStop (and the mount, when there is a volume). */
  readonly containers: readonly string[];
  readonly volume: HookVolume | undefined;
  /** Value of the `lameduck.dev/hook` label, set with a new volume. */
  readonly hookLabel: string | undefined;
  /** New terminationGracePeriodSeconds, or undefined to leave it. */
  readonly gracePeriodSeconds: number | undefined;
  /** Marker value to write, or undefined when the pod carries one already. */
  readonly marker: string | undefined;
  /** One line for the decision log: what was chosen and why. */
  readonly why: string;
}

export type Decision =
  | { readonly inject: false; readonly reason: SkipReason; readonly warnings: readonly string[] }
  | { readonly inject: true; readonly plan: Plan; readonly warnings: readonly string[] };

const seconds = (ms: number): number => Math.ceil(ms / 1000);

function isArch(arch: string): arch is Arch {
  return Object.hasOwn(HookKey, arch);
}

type HookChoice =
  | { ok: true; volume: HookVolume; hash: string | undefined; why: string }
  | { ok: false; reason: SkipReason; why: string };

/**
 * The hook volumes of the configured source, as the policy recognises them too: an image volume is
 * lameduck's only when it mounts exactly --hook-image (nothing a pod carries names the image).
 */
function recognised(source: HookSource): Recognised {
  return {
    configMap: source.kind === HookSourceKind.configmap,
    image: (reference) => source.kind === HookSourceKind.image && reference === source.image,
  };
}

/**
 * A new image volume: the node pulls the hook for its own architecture, so nothing is guessed. A
 * pod pinned to an architecture the image lacks would never start (its volume cannot be pulled).
 */
function chooseImageVolume(pod: Pod, image: string): HookChoice {
  const pinned = pinnedArch(pod);
  if (pinned !== undefined && !isArch(pinned.arch)) return { ok: false, reason: SkipReason.noHookForArch, why: `no hook image for ${pinned.arch}` };
  const name = freeVolumeName(pod);
  const mountPath = freeMountPath(pod);
  const podinfoName = freeVolumeName(pod, podinfoVolumeName);
  const podinfoPath = freeMountPath(pod, podinfoMountPath);
  if (name === undefined || mountPath === undefined || podinfoName === undefined || podinfoPath === undefined) {
    return { ok: false, reason: SkipReason.noHookForArch, why: "no free volume name or mount path" };
  }
  const origin = { kind: "image", reference: image, podinfo: { name: podinfoName, mountPath: podinfoPath } } as const;
  return { ok: true, volume: { name, mountPath, origin, exists: false }, hash: undefined, why: "the node pulls the hook image for its architecture" };
}

/** The volume the hook comes from: an existing one of ours, else a new one for the right arch. */
function chooseHookVolume(pod: Pod, namespace: string, facts: ClusterFacts, marked: boolean, source: HookSource): HookChoice {
  if (marked) {
    const existing = findHookVolume(pod, recognised(source));
    if (existing !== undefined) return { ok: true, volume: existing, hash: undefined, why: `reusing volume ${existing.name}` };
  }
  if (source.kind === HookSourceKind.image) return chooseImageVolume(pod, source.image);
  const pinned = pinnedArch(pod);
  let arch: string;
  let archWhy: string;
  if (pinned !== undefined) {
    arch = pinned.arch;
    archWhy = `${arch} from the pod's ${pinned.by}`;
  } else {
    const archs = facts.nodeArchitectures();
    const [only] = [...archs];
    if (archs.size !== 1 || only === undefined) {
      return { ok: false, reason: SkipReason.noHookForArch, why: archs.size === 0 ? "node architectures unknown" : "mixed-architecture cluster" };
    }
    arch = only;
    archWhy = `${arch}, the cluster's only architecture`;
  }
  if (!isArch(arch)) return { ok: false, reason: SkipReason.noHookForArch, why: `no hook built for ${arch}` };
  const cm = facts.hookConfigMap(namespace);
  const hash = cm?.hash ?? facts.currentHookHash();
  if (hash === undefined) return { ok: false, reason: SkipReason.hookVersionUnknown, why: "hook version unknown" };
  const name = freeVolumeName(pod);
  const mountPath = freeMountPath(pod);
  if (name === undefined || mountPath === undefined) return { ok: false, reason: SkipReason.noHookForArch, why: "no free volume name or mount path" };
  const configMapName = cm?.name ?? hookConfigMapName(hash);
  const why = cm === undefined ? `${archWhy}; ${configMapName} not in the namespace yet, mounted optional` : archWhy;
  return { ok: true, volume: { name, mountPath, origin: { kind: "configmap", configMapName, key: HookKey[arch] }, exists: false }, hash, why };
}

function waitArgs(s: Settings, oracle: string, hostNetwork: boolean, volume: HookVolume): string[] {
  // On hostNetwork the pod's /proc/net/tcp is the node's: every connection on the node would count
  // as inbound traffic, so the quiet phase could only ever run to its maximum. The drain phase goes
  // with it: the pod's address is the node's there, so excluding the oracle's node= (kubelet probes)
  // would also exclude every client that reaches the pod from the node or masqueraded by kube-proxy,
  // and the count would be neither the pod's nor complete.
  const quietMs = hostNetwork ? 0 : s.quietMs;
  const args = ["wait", `--oracle=${oracle}`, `--max=${formatDuration(s.maxMs)}`, `--settle=${formatDuration(s.settleMs)}`, `--quiet=${formatDuration(quietMs)}`, `--fallback=${formatDuration(s.fallbackMs)}`];
  // The bare flag: the hook refuses --drain=VALUE.
  if (s.drain && !hostNetwork) args.push("--drain");
  // The hook's default --podinfo is its own directory, which an image volume cannot carry the pod's identity in.
  if (volume.origin.kind === "image") args.push(`--podinfo=${volume.origin.podinfo.mountPath}`);
  return args;
}

/** What the decision log says about the drain phase, when the pod's settings asked for it. */
function drainWhy(mode: Mode, s: Settings, pod: Pod): string {
  if (!s.drain) return "";
  if (s.mode !== Mode.wait) return "";
  if (mode !== Mode.wait) return " (no drain phase without the oracle)";
  return pod.spec?.hostNetwork === true ? " (no drain phase on hostNetwork)" : " with the drain phase";
}

/**
 * The grace period that leaves the application its whole original shutdown budget after the hook:
 * original + what the hook may take, capped by --max-grace-period but never below the original.
 */
export function extendedGrace(original: number, hookSeconds: number, cap: number): number {
  return Math.max(original, Math.min(original + hookSeconds, cap));
}

export function decide(pod: Pod, namespace: string, facts: ClusterFacts, policy: Policy): Decision {
  const annotations = pod.metadata?.annotations;
  if (annotations?.[mirrorAnnotation] !== undefined) return { inject: false, reason: SkipReason.mirrorPod, warnings: [] };
  const resolution = resolvePolicy(annotations, namespace, facts.namespace(namespace), policy);
  if (!resolution.inject) return resolution;
  const { settings } = resolution;
  const warnings = [...resolution.warnings];
  const skip = (reason: SkipReason, why?: string): Decision => {
    if (why !== undefined) warnings.push(warningText(`lameduck: not injected: ${why}`));
    return { inject: false, reason, warnings };
  };

  const spec = pod.spec;
  const count = (spec?.containers?.length ?? 0) + (spec?.initContainers?.length ?? 0) + (spec?.ephemeralContainers?.length ?? 0);
  if (count > maxContainers) return skip(SkipReason.tooManyContainers, `the pod has ${count} containers, more than the ${maxContainers} lameduck patches`);

  const marked = annotations?.[Annotation.injected] !== undefined;
  const containers = (pod.spec?.containers ?? []).filter((c) => c.lifecycle?.preStop === undefined).map((c) => c.name);
  if (containers.length === 0) return skip(marked ? SkipReason.alreadyInjected : SkipReason.allHavePreStop);

  const original = pod.spec?.terminationGracePeriodSeconds ?? defaultGracePeriodSeconds;
  const native = facts.nativeSleep();
  const grace = (hookSeconds: number): number | undefined => {
    if (marked) return undefined;
    const extended = extendedGrace(original, hookSeconds, policy.maxGracePeriodSeconds);
    return extended === pod.spec?.terminationGracePeriodSeconds ? undefined : extended;
  };
  const nativeSleepPlan = (why: string): Plan => {
    // The native action takes whole seconds, at most the grace period (API validation).
    const wanted = seconds(settings.sleepMs);
    const gracePeriodSeconds = grace(wanted);
    const sleepSeconds = Math.min(wanted, gracePeriodSeconds ?? original);
    return {
      mode: Mode.sleep, handler: Handler.nativeSleep, preStop: { sleep: { seconds: sleepSeconds } }, containers,
      volume: undefined, hookLabel: undefined, gracePeriodSeconds, marker: marked ? undefined : `${markerVersion} ${Mode.sleep}`,
      why: `native sleep ${sleepSeconds}s: ${why}`,
    };
  };
  const nativeSleep = (why: string): Decision => ({ inject: true, plan: nativeSleepPlan(why), warnings });
  /** Less than the drain wait the pod asked for, for a reason that is lameduck's, not the user's. */
  const warnNoWait = (why: string): void => {
    if (settings.mode === Mode.wait) warnings.push(warningText(`lameduck: ${why}; using a ${formatDuration(settings.sleepMs)} sleep instead of the drain wait`));
  };
  const downgrade = (why: string): Decision => {
    warnNoWait(why);
    return nativeSleep(why);
  };

  if (isWindows(pod)) {
    if (!native) return skip(SkipReason.windowsWithoutNativeSleep, "Windows pod and this cluster has no native sleep action");
    return nativeSleep("Windows pod");
  }
  if (settings.mode === Mode.sleep && native) return nativeSleep("sleep mode");
  // A reinvoked pod that got the native sleep the first time gets it for its new containers too.
  const source = policy.hookSource;
  if (marked && native && findHookVolume(pod, recognised(source)) === undefined) return nativeSleep("as on the first pass");
  if (source.kind === HookSourceKind.configmap && !marked && native && facts.hookConfigMap(namespace) === undefined) {
    return downgrade("the hook ConfigMap is not in the namespace yet");
  }

  const oracle = facts.oracleAddress();
  const mode = settings.mode === Mode.wait && oracle !== undefined ? Mode.wait : Mode.sleep;
  if (settings.mode === Mode.wait && oracle === undefined) {
    if (native) return downgrade("the oracle address is not known yet");
    warnNoWait("the oracle address is not known yet");
  }
  const choice = chooseHookVolume(pod, namespace, facts, marked, source);
  if (!choice.ok) {
    if (native) return downgrade(choice.why);
    return skip(choice.reason, choice.why);
  }
  const { volume } = choice;
  const args = mode === Mode.wait && oracle !== undefined ? waitArgs(settings, oracle, pod.spec?.hostNetwork === true, volume) : ["sleep", formatDuration(settings.sleepMs)];
  const hookMs = mode === Mode.wait ? settings.maxMs : settings.sleepMs;
  return {
    inject: true,
    warnings,
    plan: {
      mode,
      handler: mode === Mode.wait ? Handler.wait : Handler.sleep,
      preStop: { exec: { command: [`${volume.mountPath}/hook`, ...args] } },
      containers,
      volume,
      hookLabel: volume.exists ? undefined : choice.hash,
      gracePeriodSeconds: grace(seconds(hookMs)),
      marker: marked ? undefined : `${markerVersion} ${mode}`,
      why: `${mode}${drainWhy(mode, settings, pod)} via ${volume.origin.kind === "image" ? `image ${volume.origin.reference}` : volume.origin.key} (${choice.why})`,
    },
  };
}
