// ClusterFacts (injector/cluster-facts.ts) answered from the informer caches: the admission path reads
// these on every request, so each is a map lookup or a value kept up to date by informer events.
import type { ClusterFacts } from "../cluster-facts.ts";
import type { Informer } from "./informer.ts";
import type { NamespaceLike } from "../namespace-policy.ts";

export interface FactsDeps {
  readonly namespaces: Informer<NamespaceLike>;
  readonly nodes: Informer<NodeLike>;
  readonly services: Informer<ServiceLike>;
  /** From the distributor: its version and whether a namespace holds it. */
  readonly hooks: {
    readonly hash: string;
    currentIn(namespace: string): { readonly name: string; readonly hash: string } | undefined;
  };
  /** --oracle-address; when undefined, the ClusterIP of `oracleService` in `namespace`. */
  readonly oracleAddress: string | undefined;
  readonly oracleService: string;
  readonly namespace: string;
  /** The API server's version, once known. */
  readonly serverVersion: () => { readonly major: string; readonly minor: string } | undefined;
}

/**
 * lifecycle.preStop.sleep is beta and on by default from 1.30 (GA 1.34). 1.29 had it alpha and off
 * by default (feature gate PodLifecycleSleepAction), so a 1.29 API server usually drops the field.
 * Minor versions look like "30" or "30+" (managed offerings append "+").
 */
export function nativeSleepSupported(version: { readonly major: string; readonly minor: string }): boolean {
  const major = Number.parseInt(version.major, 10);
  const minor = Number.parseInt(version.minor, 10);
  if (!Number.isFinite(major) || !Number.isFinite(minor)) return false;
  return major > 1 || (major === 1 && minor >= 30);
}

/** The fields of a Node read here and by the oracle (V1Node and the cache's lean node fit). */
export interface NodeLike {
  readonly metadata?: { readonly name?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly status?: { readonly addresses?: readonly { readonly type: string; readonly address: string }[] };
}

export interface ServiceLike {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: { readonly clusterIP?: string; readonly ports?: readonly { readonly name?: string; readonly port: number }[] };
}

/** HOST:PORT of a Service's ClusterIP and its oracle port (named "oracle" or "http", else the first). */
export function serviceAddress(service: ServiceLike | undefined): string | undefined {
  const ip = service?.spec?.clusterIP;
  if (ip === undefined || ip === "" || ip === "None") return undefined;
  const ports = service?.spec?.ports ?? [];
  const port = (ports.find((p) => p.name === "oracle") ?? ports.find((p) => p.name === "http") ?? ports[0])?.port;
  if (port === undefined) return undefined;
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function makeClusterFacts(deps: FactsDeps): ClusterFacts {
  // Architectures by node, kept from node events so the webhook never scans the node list.
  const archByNode = new Map<string, string>();
  let architectures: ReadonlySet<string> = new Set();
  const recompute = (): void => {
    architectures = new Set(archByNode.values());
  };
  const onNode = (node: NodeLike): void => {
    const name = node.metadata?.name ?? "";
    const arch = node.metadata?.labels?.["kubernetes.io/arch"];
    // Nodes update their status every few seconds; the set changes only when an architecture does.
    if (archByNode.get(name) === arch) return;
    if (arch === undefined) archByNode.delete(name);
    else archByNode.set(name, arch);
    recompute();
  };
  deps.nodes.onAdd(onNode);
  deps.nodes.onUpdate(onNode);
  deps.nodes.onDelete((node) => {
    archByNode.delete(node.metadata?.name ?? "");
    recompute();
  });
  for (const node of deps.nodes.list()) onNode(node);

  return {
    nativeSleep: () => {
      const version = deps.serverVersion();
      return version !== undefined && nativeSleepSupported(version);
    },
    nodeArchitectures: () => architectures,
    oracleAddress: () => deps.oracleAddress ?? serviceAddress(deps.services.get(deps.oracleService, deps.namespace)),
    hookConfigMap: (namespace) => deps.hooks.currentIn(namespace),
    currentHookHash: () => deps.hooks.hash,
    namespace: (name) => deps.namespaces.get(name),
  };
}
