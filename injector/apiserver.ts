// Finding the API server: which kubeconfig applies (the flag, $KUBECONFIG, ~/.kube/config, the pod's
// service account) and whether anything answers there. Both the operator commands and `lameduck run`
// ask before doing anything else, so that no configuration and no cluster are one clear error each,
// not client-node's fallback to http://localhost:8080 and a retry loop on its warnings.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { makeRawClient } from "./informers/client.ts";

export const serviceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** Where configuration is looked for; tests replace every part. */
export interface ConfigPlaces {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly home: string;
  readonly exists: (path: string) => boolean;
}

export const defaultPlaces = (env: Readonly<Record<string, string | undefined>>): ConfigPlaces => ({ env, home: homedir(), exists: existsSync });

export interface ClusterConfig {
  readonly kc: KubeConfig;
  /** Where it came from, as the user would name it: "--kubeconfig x", "~/.kube/config", … */
  readonly source: string;
}

/** No usable configuration; `tried` says, per place, why it gave none. */
export class ClusterConfigError extends Error {
  override name = "ClusterConfigError";
  readonly tried: readonly string[];
  constructor(message: string, tried: readonly string[] = []) {
    super(tried.length === 0 ? message : `${message}: ${tried.join("; ")}`);
    this.tried = tried;
  }
}

function loadFile(kc: KubeConfig, path: string, label: string): void {
  try {
    kc.loadFromFile(path);
  } catch (e) {
    throw new ClusterConfigError(`${label}: cannot load ${path}: ${e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e)}`);
  }
}

function inCluster(places: ConfigPlaces): ClusterConfig | string {
  const host = places.env["KUBERNETES_SERVICE_HOST"];
  const port = places.env["KUBERNETES_SERVICE_PORT"];
  if (host === undefined || host === "" || port === undefined || port === "") return "in-cluster: KUBERNETES_SERVICE_HOST/PORT are not set (not running in a pod)";
  if (!places.exists(serviceAccountTokenPath)) return `in-cluster: ${serviceAccountTokenPath} does not exist (no service account token mounted)`;
  const kc = new KubeConfig();
  kc.loadFromCluster();
  return { kc, source: "in-cluster service account" };
}

/**
 * The configuration kubectl would use: --kubeconfig, else every existing file in $KUBECONFIG, else
 * ~/.kube/config, else (with `inClusterLast`) the pod's service account. `lameduck run` passes
 * `onlyInCluster`: without --kubeconfig it runs as its pod's service account and nothing else.
 */
export function loadClusterConfig(options: { readonly kubeconfig: string | undefined; readonly context: string | undefined; readonly onlyInCluster?: boolean }, places: ConfigPlaces): ClusterConfig {
  const config = resolve(options, places);
  const { context } = options;
  if (context !== undefined) {
    if (config.kc.getContextObject(context) === null) {
      const known = config.kc.getContexts().map((c) => c.name);
      throw new ClusterConfigError(`--context ${context}: no such context in ${config.source} (it has ${known.length === 0 ? "none" : known.join(", ")})`);
    }
    config.kc.setCurrentContext(context);
  }
  if (config.kc.getCurrentCluster() === null) throw new ClusterConfigError(`${config.source}: the current context ("${config.kc.getCurrentContext()}") names no cluster; pass --context`);
  return config;
}

function resolve(options: { readonly kubeconfig: string | undefined; readonly onlyInCluster?: boolean }, places: ConfigPlaces): ClusterConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig !== undefined) {
    const label = `--kubeconfig ${options.kubeconfig}`;
    if (!places.exists(options.kubeconfig)) throw new ClusterConfigError(`${label}: no such file`);
    loadFile(kc, options.kubeconfig, label);
    return { kc, source: label };
  }
  const tried: string[] = [];
  if (options.onlyInCluster !== true) {
    const list = places.env["KUBECONFIG"] ?? "";
    if (list !== "") {
      // kubectl skips the files of the list that do not exist, and so do we.
      const files = list.split(delimiter).filter((f) => f !== "");
      const present = files.filter((f) => places.exists(f));
      if (present.length === 0) throw new ClusterConfigError(`$KUBECONFIG names ${files.join(", ")}, and none of them exists`);
      for (const [i, file] of present.entries()) {
        if (i === 0) loadFile(kc, file, "$KUBECONFIG");
        else {
          const more = new KubeConfig();
          loadFile(more, file, "$KUBECONFIG");
          kc.mergeConfig(more, true);
        }
      }
      return { kc, source: `$KUBECONFIG (${present.join(delimiter)})` };
    }
    tried.push("$KUBECONFIG is not set");
    const file = join(places.home, ".kube", "config");
    if (places.exists(file)) {
      loadFile(kc, file, "~/.kube/config");
      return { kc, source: `~/.kube/config (${file})` };
    }
    tried.push(`${file} does not exist`);
  } else {
    tried.push("no --kubeconfig given");
  }
  const pod = inCluster(places);
  if (typeof pod !== "string") return pod;
  tried.push(pod);
  throw new ClusterConfigError("no Kubernetes cluster configured", tried);
}

/** Undefined when the API server answers GET /version within `timeoutMs`; otherwise why not. */
export async function probeApiServer(kc: KubeConfig, timeoutMs: number): Promise<string | undefined> {
  const abort = new AbortController();
  const timer = setTimeout(() => {
    abort.abort();
  }, timeoutMs);
  try {
    const version = await makeRawClient(kc).get("/version", abort.signal);
    return version === undefined ? "GET /version: 404 (not a Kubernetes API server?)" : undefined;
  } catch (e) {
    if (abort.signal.aborted) return `no answer within ${timeoutMs / 1000}s`;
    const err = e instanceof Error ? e : new Error(String(e));
    const code = "code" in err && typeof err.code === "string" ? err.code : undefined;
    const text = err.message.split("\n")[0] ?? "";
    return code === undefined || text.includes(code) ? text : `${code}: ${text}`;
  } finally {
    clearTimeout(timer);
  }
}

/** "cannot reach the API server https://…: why (from where, context …)". */
export function unreachable(config: ClusterConfig, reason: string): string {
  const server = config.kc.getCurrentCluster()?.server ?? "(none)";
  return `cannot reach the API server ${server}: ${reason} (from ${config.source}, context "${config.kc.getCurrentContext()}")`;
}
