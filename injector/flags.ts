// The command-line flags of `lameduck run` and `lameduck inject`: one table that holds each flag's
// default and help, from which both the parser's options and the usage texts come, so that they
// cannot disagree. test/unit/config.test.ts checks that the Deployment's args and the docs state the
// same defaults.
import { parseArgs } from "node:util";

export interface Flag {
  readonly name: string;
  /** What the value looks like in the usage text: PORT, DURATION, wait|sleep. */
  readonly value: string;
  /** The value when the flag is not given; none when the help says what happens then. */
  readonly default?: string;
  /** The default in words, for a flag without a literal one ("in-cluster service account"). */
  readonly defaultText?: string;
  readonly help: string;
  readonly short?: string;
  /** May be given several times (`-f a -f b`). */
  readonly multiple?: boolean;
}

/** The injection policy: `lameduck run` and `lameduck inject` share these. */
export const policyFlags = [
  { name: "exclude-namespaces", value: "LIST", default: "kube-system,kube-node-lease", help: "never injected (lameduck run adds its own namespace)" },
  { name: "mode", value: "wait|sleep", default: "wait", help: "default mode" },
  { name: "max", value: "DURATION", default: "30s", help: "longest a hook waits" },
  { name: "settle", value: "DURATION", default: "2s", help: "wait after leaving every EndpointSlice" },
  { name: "quiet", value: "DURATION", default: "2s", help: "inbound quiet period before release" },
  { name: "fallback", value: "DURATION", default: "10s", help: "sleep when the oracle cannot be reached" },
  { name: "drain", value: "true|false", default: "false", help: "after the quiet phase, wait until the pod's inbound connections have closed (hook wait --drain)" },
  { name: "sleep", value: "DURATION", default: "15s", help: "delay in sleep mode" },
  { name: "max-grace-period", value: "DURATION", default: "1h", help: "cap on the grace period lameduck writes" },
  {
    name: "hook-source",
    value: "configmap|image",
    default: "configmap",
    help: "where pods get the hook from: the namespace's hook ConfigMap, or an image volume of --hook-image (Kubernetes 1.36+ with containerd 2.1+ or CRI-O 1.31+)",
  },
  { name: "hook-image", value: "REF", help: "the hook image (the Dockerfile's hook target), best pinned by digest; required with --hook-source=image" },
] as const satisfies readonly Flag[];

export const runFlags = [
  { name: "kubeconfig", value: "PATH", defaultText: "in-cluster service account", help: "kubeconfig to use" },
  { name: "namespace", value: "NAME", defaultText: "$POD_NAMESPACE, else lameduck-system", help: "namespace the controller runs in" },
  { name: "webhook-port", value: "PORT", default: "8443", help: "HTTPS port of the admission webhook" },
  { name: "oracle-port", value: "PORT", default: "8080", help: "HTTP port of the drain oracle" },
  { name: "metrics-port", value: "PORT", default: "9090", help: "HTTP port of /metrics, /healthz and /readyz" },
  { name: "bind-address", value: "ADDR", default: "0.0.0.0", help: "address all servers listen on" },
  { name: "oracle-address", value: "HOST:PORT", defaultText: "ClusterIP of --oracle-service", help: "oracle address written into hooks" },
  { name: "oracle-service", value: "NAME", default: "lameduck-oracle", help: "Service fronting the oracle" },
  { name: "webhook-config-name", value: "NAME", default: "lameduck", help: "MutatingWebhookConfiguration whose caBundle lameduck manages" },
  { name: "webhook-service", value: "NAME", default: "lameduck-webhook", help: "Service in front of the webhook, named in its certificate" },
  { name: "webhook-url", value: "URL", help: "register the webhook by URL instead of Service (running outside the cluster)" },
  { name: "tls-secret", value: "NAME", default: "lameduck-webhook-tls", help: "Secret holding the webhook CA and serving certificate" },
  { name: "tls-cert-file", value: "PATH", help: "serving certificate from a file (e.g. cert-manager); caBundle is then left alone" },
  { name: "tls-key-file", value: "PATH", help: "private key for --tls-cert-file" },
  { name: "hook-dir", value: "DIR", defaultText: "beside the bundle", help: "directory holding hook-amd64 and hook-arm64" },
  {
    name: "namespace-selection",
    value: "opt-out|opt-in",
    default: "opt-out",
    help: "opt-out: inject everywhere unless lameduck.dev/inject=false; opt-in: only namespaces labelled lameduck.dev/inject=true",
  },
  ...policyFlags,
  { name: "max-waits", value: "N", default: "20000", help: "concurrent oracle long-polls before answering 503" },
  { name: "max-waits-per-client", value: "N", default: "32", help: "concurrent oracle long-polls from one source address" },
  { name: "cache-stale-after", value: "DURATION", default: "60s", help: "a cache that cannot list and watch for this long fails /readyz" },
  {
    name: "shutdown-delay",
    value: "DURATION",
    default: "5s",
    help: "on SIGTERM, keep serving this long while reporting unready, so kube-proxy stops sending here first; 0 closes at once; at most 10m",
  },
  { name: "log-level", value: "LEVEL", default: "info", help: "debug, info, warn or error" },
  {
    name: "injector",
    value: "webhook|policy",
    defaultText: "policy where the API serves MutatingAdmissionPolicy and it is installed, else webhook",
    help: "who injects pods: the webhook, or the API server itself through the lameduck MutatingAdmissionPolicy (Kubernetes 1.36+)",
  },
] as const satisfies readonly Flag[];

export const injectFlags = [
  { name: "filename", short: "f", multiple: true, value: "FILE", help: 'manifest to read, "-" for stdin (repeatable)' },
  { name: "namespace", short: "n", value: "NAME", default: "default", help: "namespace of documents that name none" },
  {
    name: "oracle",
    value: "HOST:PORT",
    help: "the drain oracle's address (the lameduck-oracle Service's ClusterIP:port); without it pods get a sleep instead of the drain wait",
  },
  { name: "arch", value: "amd64|arm64|mixed", default: "amd64", help: "the cluster's node architecture; mixed: unpinned pods get the native sleep" },
  { name: "native-sleep", value: "true|false", default: "true", help: "the cluster serves lifecycle.preStop.sleep (Kubernetes >= 1.30)" },
  {
    name: "hook-configmap",
    value: "NAME",
    help: "the hook ConfigMap in the target namespaces, lameduck-hook-<hash> (kubectl get cm -l app.kubernetes.io/managed-by=lameduck); without it pods get the native sleep",
  },
  ...policyFlags,
] as const satisfies readonly Flag[];

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface FlagValues<N extends string> {
  /** The flag's value, else its default, else undefined. */
  get(name: N): string | undefined;
  /** The flag's value or its default: for flags that have one. */
  value(name: N): string;
  /** Every value of a repeatable flag. */
  all(name: N): readonly string[];
}

/** Parses `args` against `flags` (strictly: an unknown flag or a positional argument is an error). */
export function parseFlags<const F extends readonly Flag[]>(args: readonly string[], flags: F): FlagValues<F[number]["name"]> {
  const options: Record<string, { type: "string"; short?: string; multiple?: boolean }> = {};
  for (const f of flags) options[f.name] = { type: "string", ...(f.short === undefined ? {} : { short: f.short }), ...(f.multiple === true ? { multiple: true } : {}) };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const byName = new Map<string, Flag>(flags.map((f) => [f.name, f]));
  const get = (name: string): string | undefined => {
    const given = values[name];
    if (typeof given === "string") return given;
    if (Array.isArray(given)) return given.filter((v): v is string => typeof v === "string").at(-1);
    return byName.get(name)?.default;
  };
  return {
    get,
    value(name) {
      const found = get(name);
      if (found === undefined) throw new Error(`flag --${name} has no default`);
      return found;
    },
    all(name) {
      const given = values[name];
      return Array.isArray(given) ? given.filter((v): v is string => typeof v === "string") : typeof given === "string" ? [given] : [];
    },
  };
}

const column = 31;
const width = 110;

function wrap(text: string, room: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** The default as usage texts and the docs state it. */
export function defaultOf(flag: Flag): string | undefined {
  return flag.default ?? flag.defaultText;
}

/** One flag per entry, aligned, its help wrapped, with its default. */
export function flagLines(flags: readonly Flag[]): string {
  return flags
    .map((f) => {
      const name = `${f.short === undefined ? "" : `-${f.short}, `}--${f.name}=${f.value}`;
      const fallback = defaultOf(f);
      const help = fallback === undefined ? f.help : `${f.help} (default ${fallback})`;
      const [first = "", ...rest] = wrap(help, width - column);
      const head = `  ${name}`;
      const lead = head.length + 1 > column ? [`${head}\n${" ".repeat(column)}${first}`] : [`${head.padEnd(column)}${first}`];
      return [...lead, ...rest.map((l) => `${" ".repeat(column)}${l}`)].join("\n");
    })
    .join("\n");
}
