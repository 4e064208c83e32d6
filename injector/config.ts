// The process configuration: parsed once in main from flags (and the few environment variables the
// Deployment sets), validated with the offending flag named, frozen, and passed in.
import { parseArgs } from "node:util";
import { parseDuration } from "./duration.ts";

export const Mode = { wait: "wait", sleep: "sleep" } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

export const NamespaceSelection = { optOut: "opt-out", optIn: "opt-in" } as const;
export type NamespaceSelection = (typeof NamespaceSelection)[keyof typeof NamespaceSelection];

export interface Defaults {
  readonly mode: Mode;
  readonly maxMs: number;
  readonly settleMs: number;
  readonly quietMs: number;
  readonly fallbackMs: number;
  readonly sleepMs: number;
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
  readonly maxWaits: number;
  /** Held oracle long-polls one client address may have at once. */
  readonly maxWaitsPerClient: number;
  /** A cache that has not been able to list and watch for longer than this fails /readyz. */
  readonly cacheStaleAfterMs: number;
  /** After SIGTERM: how long to keep serving while unready, so the endpoints' removal reaches kube-proxy first. */
  readonly shutdownDelayMs: number;
  /** Threads that parse and review AdmissionReviews beside the HTTPS thread; 0 reviews on it. */
  readonly reviewThreads: number;
  readonly logLevel: "debug" | "info" | "warn" | "error";
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Flags `lameduck run` and `lameduck inject` share: the injection policy. */
const policyOptions = {
  "exclude-namespaces": { type: "string", default: "kube-system,kube-node-lease" },
  mode: { type: "string", default: "wait" },
  max: { type: "string", default: "30s" },
  settle: { type: "string", default: "2s" },
  quiet: { type: "string", default: "2s" },
  fallback: { type: "string", default: "10s" },
  sleep: { type: "string", default: "15s" },
  "max-grace-period": { type: "string", default: "1h" },
} as const;

const options = {
  ...policyOptions,
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  "webhook-port": { type: "string", default: "8443" },
  "oracle-port": { type: "string", default: "8080" },
  "metrics-port": { type: "string", default: "9090" },
  "bind-address": { type: "string", default: "0.0.0.0" },
  "oracle-address": { type: "string" },
  "oracle-service": { type: "string", default: "lameduck-oracle" },
  "webhook-config-name": { type: "string", default: "lameduck" },
  "webhook-service": { type: "string", default: "lameduck-webhook" },
  "webhook-url": { type: "string" },
  "tls-secret": { type: "string", default: "lameduck-webhook-tls" },
  "tls-cert-file": { type: "string" },
  "tls-key-file": { type: "string" },
  "hook-dir": { type: "string" },
  "namespace-selection": { type: "string", default: "opt-out" },
  "max-waits": { type: "string", default: "20000" },
  "max-waits-per-client": { type: "string", default: "32" },
  "cache-stale-after": { type: "string", default: "60s" },
  "shutdown-delay": { type: "string", default: "5s" },
  "review-threads": { type: "string", default: "1" },
  "log-level": { type: "string", default: "info" },
} as const;

export const runUsage = `Usage: lameduck run [flags]

Runs the mutating admission webhook, the hook ConfigMap distributor and the drain oracle.

Flags:
  --kubeconfig=PATH            kubeconfig to use (default: in-cluster service account)
  --namespace=NAME             namespace the controller runs in (default: $POD_NAMESPACE, else lameduck-system)
  --webhook-port=PORT          HTTPS port of the admission webhook (default 8443)
  --oracle-port=PORT           HTTP port of the drain oracle (default 8080)
  --metrics-port=PORT          HTTP port of /metrics, /healthz and /readyz (default 9090)
  --bind-address=ADDR          address all servers listen on (default 0.0.0.0)
  --oracle-address=HOST:PORT   oracle address written into hooks (default: ClusterIP of --oracle-service)
  --oracle-service=NAME        Service fronting the oracle (default lameduck-oracle)
  --webhook-config-name=NAME   MutatingWebhookConfiguration whose caBundle lameduck manages (default lameduck)
  --webhook-service=NAME       Service in front of the webhook, named in its certificate (default lameduck-webhook)
  --webhook-url=URL            register the webhook by URL instead of Service (running outside the cluster)
  --tls-secret=NAME            Secret holding the webhook CA and serving certificate (default lameduck-webhook-tls)
  --tls-cert-file=PATH         serving certificate from a file (e.g. cert-manager); caBundle is then left alone
  --tls-key-file=PATH          private key for --tls-cert-file
  --hook-dir=DIR               directory holding hook-amd64 and hook-arm64 (default: beside the bundle)
  --namespace-selection=MODE   opt-out (inject everywhere unless lameduck.dev/inject=false) or opt-in
                               (only namespaces labelled lameduck.dev/inject=true) (default opt-out)
  --exclude-namespaces=LIST    never injected, besides the controller's own (default kube-system,kube-node-lease)
  --mode=wait|sleep            default mode (default wait)
  --max=DURATION               longest a hook waits (default 30s)
  --settle=DURATION            wait after leaving every EndpointSlice (default 2s)
  --quiet=DURATION             inbound quiet period before release (default 2s)
  --fallback=DURATION          sleep when the oracle cannot be reached (default 10s)
  --sleep=DURATION             delay in sleep mode (default 15s)
  --max-grace-period=DURATION  cap on the grace period lameduck writes (default 1h)
  --max-waits=N                concurrent oracle long-polls before answering 503 (default 20000)
  --max-waits-per-client=N     concurrent oracle long-polls from one source address (default 32)
  --cache-stale-after=DURATION a cache that cannot list and watch for this long fails /readyz (default 60s)
  --shutdown-delay=DURATION    on SIGTERM, keep serving this long while reporting unready, so kube-proxy
                               stops sending here first; 0 closes at once (default 5s, at most 10m)
  --review-threads=N           threads that parse and review AdmissionReviews while the HTTPS thread
                               serves; 0 reviews on the HTTPS thread (default 1, at most 16)
  --log-level=LEVEL            debug, info, warn or error (default info)
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

type PolicyValues = { [K in keyof typeof policyOptions]: string };

function parsePolicyValues(values: PolicyValues): { defaults: Defaults; excludedNamespaces: readonly string[]; maxGracePeriodSeconds: number } {
  const maxGrace = duration("max-grace-period", values["max-grace-period"]);
  if (maxGrace < 1000) throw new ConfigError(`--max-grace-period: must be at least 1s`);
  const defaults: Defaults = Object.freeze({
    mode: oneOf("mode", values.mode, [Mode.wait, Mode.sleep]),
    maxMs: duration("max", values.max),
    settleMs: duration("settle", values.settle),
    quietMs: duration("quiet", values.quiet),
    fallbackMs: duration("fallback", values.fallback),
    sleepMs: duration("sleep", values.sleep),
  });
  return {
    defaults,
    excludedNamespaces: values["exclude-namespaces"].split(",").map((s) => s.trim()).filter((s) => s !== ""),
    maxGracePeriodSeconds: Math.floor(maxGrace / 1000),
  };
}

/** Parses `lameduck run` flags. `env` supplies POD_NAMESPACE; nothing else is read from it. */
export function parseRunConfig(args: readonly string[], env: Readonly<Record<string, string | undefined>>, defaultHookDir: string): RunConfig {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const maxWaits = Number(values["max-waits"]);
  if (!Number.isSafeInteger(maxWaits) || maxWaits < 1) throw new ConfigError(`--max-waits: "${values["max-waits"]}" is not a positive integer`);
  const maxWaitsPerClient = Number(values["max-waits-per-client"]);
  if (!/^\d+$/.test(values["max-waits-per-client"]) || maxWaitsPerClient < 1) throw new ConfigError(`--max-waits-per-client: "${values["max-waits-per-client"]}" is not a positive integer`);
  const cacheStaleAfterMs = duration("cache-stale-after", values["cache-stale-after"]);
  if (cacheStaleAfterMs < 1000) throw new ConfigError(`--cache-stale-after: must be at least 1s`);
  const reviewThreads = Number(values["review-threads"]);
  if (!/^\d+$/.test(values["review-threads"]) || reviewThreads > 16) throw new ConfigError(`--review-threads: "${values["review-threads"]}" is not a whole number from 0 to 16`);
  const policy = parsePolicyValues(values);
  const shutdownDelayMs = duration("shutdown-delay", values["shutdown-delay"]);
  // The Deployment's terminationGracePeriodSeconds has to cover it; beyond minutes it is a typo.
  if (shutdownDelayMs > maxShutdownDelayMs) throw new ConfigError(`--shutdown-delay: at most 10m`);
  if ((values["tls-cert-file"] === undefined) !== (values["tls-key-file"] === undefined)) {
    throw new ConfigError("--tls-cert-file and --tls-key-file must be given together");
  }
  const namespace = values.namespace ?? env["POD_NAMESPACE"] ?? "lameduck-system";
  return Object.freeze({
    kubeconfig: values.kubeconfig,
    namespace,
    webhookPort: port("webhook-port", values["webhook-port"]),
    oraclePort: port("oracle-port", values["oracle-port"]),
    metricsPort: port("metrics-port", values["metrics-port"]),
    bindAddress: values["bind-address"],
    oracleAddress: values["oracle-address"] === undefined ? undefined : hostPort("oracle-address", values["oracle-address"]),
    oracleService: values["oracle-service"],
    webhookConfigName: values["webhook-config-name"],
    webhookService: values["webhook-service"],
    webhookUrl: values["webhook-url"],
    tlsSecret: values["tls-secret"],
    tlsCertFile: values["tls-cert-file"],
    tlsKeyFile: values["tls-key-file"],
    hookDir: values["hook-dir"] ?? defaultHookDir,
    namespaceSelection: oneOf("namespace-selection", values["namespace-selection"], [NamespaceSelection.optOut, NamespaceSelection.optIn]),
    excludedNamespaces: Object.freeze([...new Set([namespace, ...policy.excludedNamespaces])]),
    defaults: policy.defaults,
    maxGracePeriodSeconds: policy.maxGracePeriodSeconds,
    maxWaits,
    maxWaitsPerClient,
    cacheStaleAfterMs,
    shutdownDelayMs,
    reviewThreads,
    logLevel: oneOf("log-level", values["log-level"], ["debug", "info", "warn", "error"] as const),
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
  readonly oracleAddress: string | undefined;
  readonly arch: InjectArch;
  readonly nativeSleep: boolean;
  /** Hash of the hook ConfigMap (`lameduck-hook-<hash>`) the pods mount, if given. */
  readonly hookHash: string | undefined;
}

const injectOptions = {
  ...policyOptions,
  filename: { type: "string", short: "f", multiple: true },
  namespace: { type: "string", short: "n", default: "default" },
  oracle: { type: "string" },
  arch: { type: "string", default: "amd64" },
  "native-sleep": { type: "string", default: "true" },
  "hook-configmap": { type: "string" },
} as const;

export const injectUsage = `Usage: lameduck inject -f FILE [flags]

Injects lameduck's preStop hook into the pod templates of Kubernetes manifests, as the admission
webhook would, for deploying without the webhook (GitOps). Reads YAML or JSON (multi-document, List
kinds) with Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs; writes YAML
to stdout; other documents pass through unchanged. Warnings go to stderr. Exit code 2 on bad input.

Flags:
  -f, --filename=FILE          manifest to read, "-" for stdin (repeatable)
  -n, --namespace=NAME         namespace of documents that name none (default default)
  --oracle=HOST:PORT           the drain oracle's address (the lameduck-oracle Service's ClusterIP:port);
                               without it pods get a sleep instead of the drain wait
  --arch=amd64|arm64|mixed     the cluster's node architecture (default amd64); mixed: unpinned pods
                               get the native sleep
  --native-sleep=true|false    the cluster serves lifecycle.preStop.sleep (Kubernetes >= 1.30) (default true)
  --hook-configmap=NAME        the hook ConfigMap in the target namespaces, lameduck-hook-<hash>
                               (kubectl get cm -l app.kubernetes.io/managed-by=lameduck); without it
                               pods get the native sleep
  --exclude-namespaces=LIST    never injected (default kube-system,kube-node-lease)
  --mode=wait|sleep            default mode (default wait)
  --max, --settle, --quiet, --fallback, --sleep, --max-grace-period
                               as for 'lameduck run' (defaults 30s, 2s, 2s, 10s, 15s, 1h)
`;

export function parseInjectConfig(args: readonly string[]): InjectConfig {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: injectOptions, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const files = values.filename ?? [];
  if (files.length === 0) throw new ConfigError('-f: give a manifest file, or "-" for stdin');
  const policy = parsePolicyValues(values);
  const hookConfigMap = values["hook-configmap"];
  let hookHash: string | undefined;
  if (hookConfigMap !== undefined) {
    const match = /^lameduck-hook-([a-z0-9]{1,40})$/.exec(hookConfigMap);
    if (match === null) throw new ConfigError(`--hook-configmap: "${hookConfigMap}" is not lameduck-hook-<hash>`);
    hookHash = match[1];
  }
  return Object.freeze({
    files: Object.freeze([...files]),
    namespace: values.namespace,
    defaults: policy.defaults,
    namespaceSelection: NamespaceSelection.optOut,
    excludedNamespaces: Object.freeze([...policy.excludedNamespaces]),
    maxGracePeriodSeconds: policy.maxGracePeriodSeconds,
    oracleAddress: values.oracle === undefined ? undefined : hostPort("oracle", values.oracle),
    arch: oneOf("arch", values.arch, [InjectArch.amd64, InjectArch.arm64, InjectArch.mixed]),
    nativeSleep: oneOf("native-sleep", values["native-sleep"], ["true", "false"]) === "true",
    hookHash,
  });
}
