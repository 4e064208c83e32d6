// The process configuration: parsed once in main from flags (and the few environment variables the
// Deployment sets), validated with the offending flag named, frozen, and passed in.
import { parseDuration } from "./duration.ts";
import { checkImageRef } from "./image-ref.ts";
import { ConfigError, flagLines, injectFlags, parseFlags, policyFlags, runFlags, type FlagValues } from "./flags.ts";

export const Mode = { wait: "wait", sleep: "sleep" } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

export const Injector = { webhook: "webhook", policy: "policy" } as const;
export type Injector = (typeof Injector)[keyof typeof Injector];

export const HookSourceKind = { configmap: "configmap", image: "image" } as const;
export type HookSourceKind = (typeof HookSourceKind)[keyof typeof HookSourceKind];

/** Where injected pods get the hook: the namespace's hook ConfigMap, or an image volume of one image. */
export type HookSource = { readonly kind: typeof HookSourceKind.configmap } | { readonly kind: typeof HookSourceKind.image; readonly image: string };

export const NamespaceSelection = { optOut: "opt-out", optIn: "opt-in" } as const;
export type NamespaceSelection = (typeof NamespaceSelection)[keyof typeof NamespaceSelection];

export interface Defaults {
  readonly mode: Mode;
  readonly maxMs: number;
  readonly settleMs: number;
  readonly quietMs: number;
  readonly fallbackMs: number;
  readonly sleepMs: number;
  /** The hook's drain phase (`hook wait --drain`) after the quiet phase. */
  readonly drain: boolean;
}

export interface RunConfig {
  readonly kubeconfig: string | undefined;
  readonly namespace: string;
  readonly webhookPort: number;
  readonly oraclePort: number;
  readonly metricsPort: number;
  readonly bindAddress: string;
  /** Address the injected hooks dial; empty: taken from the oracle Service's ClusterIP. */
  readonly oracleAddress: string | undefined;
  readonly oracleService: string;
  readonly webhookConfigName: string;
  /** Service in front of the webhook: its DNS names go into the serving certificate. */
  readonly webhookService: string;
  /** Reach the webhook by URL instead of the in-cluster Service (for running from a laptop). */
  readonly webhookUrl: string | undefined;
  readonly tlsSecret: string;
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  readonly hookDir: string;
  readonly namespaceSelection: NamespaceSelection;
  readonly excludedNamespaces: readonly string[];
  readonly defaults: Defaults;
  /** Upper bound on the grace period lameduck writes into a pod, in seconds. */
  readonly maxGracePeriodSeconds: number;
  /** --hook-source and --hook-image. */
  readonly hookSource: HookSource;
  readonly maxWaits: number;
  /** Held oracle long-polls one client address may have at once. */
  readonly maxWaitsPerClient: number;
  /** A cache that has not been able to list and watch for longer than this fails /readyz. */
  readonly cacheStaleAfterMs: number;
  /** After SIGTERM: how long to keep serving while unready, so the endpoints' removal reaches kube-proxy first. */
  readonly shutdownDelayMs: number;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  /** --injector; undefined: chosen from what the API server serves (injector/policy/mode.ts). */
  readonly injector: Injector | undefined;
}

export { ConfigError };

export const runUsage = `Usage: lameduck run [flags]

Runs the mutating admission webhook, the hook ConfigMap distributor and the drain oracle.

Flags:
${flagLines(runFlags)}
`;

const maxShutdownDelayMs = 600_000;

function port(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new ConfigError(`--${flag}: "${text}" is not a TCP port (1-65535)`);
  return n;
}

function duration(flag: string, text: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new ConfigError(`--${flag}: ${parsed.error}`);
  return parsed.ms;
}

function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === text);
  if (found === undefined) throw new ConfigError(`--${flag}: "${text}" is not one of ${allowed.join(", ")}`);
  return found;
}

function hostPort(flag: string, text: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(text);
  if (match === null) throw new ConfigError(`--${flag}: "${text}" is not HOST:PORT`);
  port(flag, match[2] ?? "");
  return text;
}

type PolicyFlag = (typeof policyFlags)[number]["name"];

function parseHookSource(flags: FlagValues<PolicyFlag>): HookSource {
  const kind = oneOf("hook-source", flags.value("hook-source"), [HookSourceKind.configmap, HookSourceKind.image]);
  const image = flags.get("hook-image");
  if (kind === HookSourceKind.configmap) {
    if (image !== undefined) throw new ConfigError("--hook-image: only used with --hook-source=image");
    return Object.freeze({ kind });
  }
  if (image === undefined) throw new ConfigError("--hook-image: required with --hook-source=image (the hook image, e.g. ghcr.io/lameduck-dev/lameduck-hook@sha256:...)");
  const check = checkImageRef(image);
  if (!check.ok) throw new ConfigError(`--hook-image: ${JSON.stringify(image)} ${check.problem}`);
  return Object.freeze({ kind, image });
}

function parsePolicyValues(flags: FlagValues<PolicyFlag>): {
  defaults: Defaults;
  excludedNamespaces: readonly string[];
  maxGracePeriodSeconds: number;
  hookSource: HookSource;
} {
  const values = (name: PolicyFlag): string => flags.value(name);
  const maxGrace = duration("max-grace-period", values("max-grace-period"));
  if (maxGrace < 1000) throw new ConfigError(`--max-grace-period: must be at least 1s`);
  const defaults: Defaults = Object.freeze({
    mode: oneOf("mode", values("mode"), [Mode.wait, Mode.sleep]),
    maxMs: duration("max", values("max")),
    settleMs: duration("settle", values("settle")),
    quietMs: duration("quiet", values("quiet")),
    fallbackMs: duration("fallback", values("fallback")),
    sleepMs: duration("sleep", values("sleep")),
    drain: oneOf("drain", values("drain"), ["true", "false"]) === "true",
  });
  return {
    defaults,
    excludedNamespaces: values("exclude-namespaces").split(",").map((s) => s.trim()).filter((s) => s !== ""),
    maxGracePeriodSeconds: Math.floor(maxGrace / 1000),
    hookSource: parseHookSource(flags),
  };
}

/** Parses `lameduck run` flags. `env` supplies POD_NAMESPACE; nothing else is read from it. */
export function parseRunConfig(args: readonly string[], env: Readonly<Record<string, string | undefined>>, defaultHookDir: string): RunConfig {
  const flags = parseFlags(args, runFlags);
  const values = (name: (typeof runFlags)[number]["name"]): string => flags.value(name);
  const maxWaits = Number(values("max-waits"));
  if (!Number.isSafeInteger(maxWaits) || maxWaits < 1) throw new ConfigError(`--max-waits: "${values("max-waits")}" is not a positive integer`);
  const maxWaitsPerClient = Number(values("max-waits-per-client"));
  if (!/^\d+$/.test(values("max-waits-per-client")) || maxWaitsPerClient < 1) throw new ConfigError(`--max-waits-per-client: "${values("max-waits-per-client")}" is not a positive integer`);
  const cacheStaleAfterMs = duration("cache-stale-after", values("cache-stale-after"));
  if (cacheStaleAfterMs < 1000) throw new ConfigError(`--cache-stale-after: must be at least 1s`);
  const policy = parsePolicyValues(flags);
  const shutdownDelayMs = duration("shutdown-delay", values("shutdown-delay"));
  // The Deployment's terminationGracePeriodSeconds has to cover it; beyond minutes it is a typo.
  if (shutdownDelayMs > maxShutdownDelayMs) throw new ConfigError(`--shutdown-delay: at most 10m`);
  if ((flags.get("tls-cert-file") === undefined) !== (flags.get("tls-key-file") === undefined)) {
    throw new ConfigError("--tls-cert-file and --tls-key-file must be given together");
  }
  const namespace = flags.get("namespace") ?? env["POD_NAMESPACE"] ?? "lameduck-system";
  const oracleAddress = flags.get("oracle-address");
  return Object.freeze({
    kubeconfig: flags.get("kubeconfig"),
    namespace,
    webhookPort: port("webhook-port", values("webhook-port")),
    oraclePort: port("oracle-port", values("oracle-port")),
    metricsPort: port("metrics-port", values("metrics-port")),
    bindAddress: values("bind-address"),
    oracleAddress: oracleAddress === undefined ? undefined : hostPort("oracle-address", oracleAddress),
    oracleService: values("oracle-service"),
    webhookConfigName: values("webhook-config-name"),
    webhookService: values("webhook-service"),
    webhookUrl: flags.get("webhook-url"),
    tlsSecret: values("tls-secret"),
    tlsCertFile: flags.get("tls-cert-file"),
    tlsKeyFile: flags.get("tls-key-file"),
    hookDir: flags.get("hook-dir") ?? defaultHookDir,
    namespaceSelection: oneOf("namespace-selection", values("namespace-selection"), [NamespaceSelection.optOut, NamespaceSelection.optIn]),
    excludedNamespaces: Object.freeze([...new Set([namespace, ...policy.excludedNamespaces])]),
    defaults: policy.defaults,
    maxGracePeriodSeconds: policy.maxGracePeriodSeconds,
    hookSource: policy.hookSource,
    maxWaits,
    maxWaitsPerClient,
    cacheStaleAfterMs,
    shutdownDelayMs,
    logLevel: oneOf("log-level", values("log-level"), ["debug", "info", "warn", "error"] as const),
    injector: flags.get("injector") === undefined ? undefined : oneOf("injector", values("injector"), [Injector.webhook, Injector.policy]),
  });
}

export const InjectArch = { amd64: "amd64", arm64: "arm64", mixed: "mixed" } as const;
export type InjectArch = (typeof InjectArch)[keyof typeof InjectArch];

/** `lameduck inject`: the webhook's mutation offline, with the cluster described by flags. */
export interface InjectConfig {
  /** Files to read; "-" is stdin. */
  readonly files: readonly string[];
  /** Namespace of documents that name none (as kubectl apply would use). */
  readonly namespace: string;
  readonly defaults: Defaults;
  readonly namespaceSelection: NamespaceSelection;
  readonly excludedNamespaces: readonly string[];
  readonly maxGracePeriodSeconds: number;
  readonly hookSource: HookSource;
  readonly oracleAddress: string | undefined;
  readonly arch: InjectArch;
  readonly nativeSleep: boolean;
  /** Hash of the hook ConfigMap (`lameduck-hook-<hash>`) the pods mount, if given. */
  readonly hookHash: string | undefined;
}

export const injectUsage = `Usage: lameduck inject -f FILE [flags]

Injects lameduck's preStop hook into the pod templates of Kubernetes manifests, as the admission
webhook would, for deploying without the webhook (GitOps). Reads YAML or JSON (multi-document, List
kinds) with Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs
and CronJobs; writes them to stdout, changing only what lameduck adds: every other byte, comment and
document stays as written. Running it again with other flags moves what lameduck added (and only
that) to the new settings. Stderr says per document what was done or why not. Exit code 2 on bad
input, and then nothing is written to stdout.

Flags:
${flagLines(injectFlags)}
`;

export function parseInjectConfig(args: readonly string[]): InjectConfig {
  const flags = parseFlags(args, injectFlags);
  const files = flags.all("filename");
  if (files.length === 0) throw new ConfigError('-f: give a manifest file, or "-" for stdin');
  const policy = parsePolicyValues(flags);
  const hookConfigMap = flags.get("hook-configmap");
  const oracle = flags.get("oracle");
  let hookHash: string | undefined;
  if (hookConfigMap !== undefined) {
    const match = /^lameduck-hook-([a-z0-9]{1,40})$/.exec(hookConfigMap);
    if (match === null) throw new ConfigError(`--hook-configmap: "${hookConfigMap}" is not lameduck-hook-<hash>`);
    hookHash = match[1];
    if (policy.hookSource.kind === HookSourceKind.image) throw new ConfigError("--hook-configmap: not used with --hook-source=image (pods mount the hook image)");
  }
  return Object.freeze({
    files: Object.freeze([...files]),
    namespace: flags.value("namespace"),
    defaults: policy.defaults,
    namespaceSelection: NamespaceSelection.optOut,
    excludedNamespaces: Object.freeze([...policy.excludedNamespaces]),
    maxGracePeriodSeconds: policy.maxGracePeriodSeconds,
    hookSource: policy.hookSource,
    oracleAddress: oracle === undefined ? undefined : hostPort("oracle", oracle),
    arch: oneOf("arch", flags.value("arch"), [InjectArch.amd64, InjectArch.arm64, InjectArch.mixed]),
    nativeSleep: oneOf("native-sleep", flags.value("native-sleep"), ["true", "false"]) === "true",
    hookHash,
  });
}
