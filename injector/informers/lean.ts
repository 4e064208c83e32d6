// What each cache keeps of an object: the fields lameduck reads, nothing else. Objects are trimmed
// as they are decoded (list pages and watch events), before they are cached or handed to anyone, as
// client-go's SetTransform does. A tenant decides how big its ConfigMaps, EndpointSlices and their
// annotations are; the caches' size must depend only on how many objects there are.
import { createHash } from "node:crypto";
import { Label, prefix } from "../names.ts";

export interface LeanMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Any cached object: metadata with at least a name. */
export interface Lean {
  readonly metadata: LeanMeta;
}

export interface LeanNamespace extends Lean {
  /** "Terminating" also when only metadata.deletionTimestamp said so. */
  readonly status?: { readonly phase?: string };
}

export interface LeanNode extends Lean {
  readonly status?: {
    readonly addresses?: readonly { readonly type: string; readonly address: string }[];
    /** The Ready condition only. */
    readonly conditions?: readonly { readonly type: string; readonly status: string; readonly reason?: string; readonly message?: string }[];
  };
}

export interface LeanService extends Lean {
  readonly spec?: { readonly clusterIP?: string; readonly ports?: readonly { readonly name?: string; readonly port: number }[] };
}

export interface LeanEndpoint {
  readonly conditions?: { readonly ready?: boolean; readonly serving?: boolean; readonly terminating?: boolean };
  readonly nodeName?: string;
  readonly targetRef?: { readonly namespace?: string; readonly name?: string; readonly uid?: string };
}

export interface LeanEndpointSlice extends Lean {
  readonly ports?: readonly { readonly port?: number }[];
  readonly endpoints?: readonly LeanEndpoint[];
}

/** A ConfigMap's metadata: the cache lists and watches ConfigMaps as PartialObjectMetadata. */
export type LeanConfigMap = Lean;

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function objs(value: unknown): Json[] {
  if (!Array.isArray(value)) return [];
  const out: Json[] = [];
  for (const v of value as unknown[]) {
    const o = obj(v);
    if (o !== undefined) out.push(o);
  }
  return out;
}

function strings(value: unknown, keep: (key: string) => boolean): Record<string, string> | undefined {
  const source = obj(value);
  if (source === undefined) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(source)) {
    if (typeof v === "string" && keep(k)) {
      out[k] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

function meta(raw: unknown, keep: { labels?: (key: string) => boolean; annotations?: (key: string) => boolean } = {}): LeanMeta | undefined {
  const m = obj(obj(raw)?.["metadata"]);
  const name = str(m?.["name"]);
  if (m === undefined || name === undefined) return undefined;
  const namespace = str(m["namespace"]);
  const uid = str(m["uid"]);
  const resourceVersion = str(m["resourceVersion"]);
  const labels = keep.labels === undefined ? undefined : strings(m["labels"], keep.labels);
  const annotations = keep.annotations === undefined ? undefined : strings(m["annotations"], keep.annotations);
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(uid === undefined ? {} : { uid }),
    ...(resourceVersion === undefined ? {} : { resourceVersion }),
    ...(labels === undefined ? {} : { labels }),
    ...(annotations === undefined ? {} : { annotations }),
  };
}

const lameduckKey = (key: string): boolean => key.startsWith(prefix);

/** Namespaces: lameduck's policy labels and annotations (lameduck.dev/...) and whether it is going away. */
export function leanNamespace(raw: unknown): LeanNamespace | undefined {
  const metadata = meta(raw, { labels: lameduckKey, annotations: lameduckKey });
  if (metadata === undefined) return undefined;
  const deleting = obj(obj(raw)?.["metadata"])?.["deletionTimestamp"] != null;
  const phase = deleting ? "Terminating" : str(obj(obj(raw)?.["status"])?.["phase"]);
  return { metadata, ...(phase === undefined ? {} : { status: { phase } }) };
}

/** Nodes: the architecture label, the addresses and the Ready condition. */
export function leanNode(raw: unknown): LeanNode | undefined {
  const metadata = meta(raw, { labels: (k) => k === "kubernetes.io/arch" });
  if (metadata === undefined) return undefined;
  const status = obj(obj(raw)?.["status"]);
  const addresses = objs(status?.["addresses"]).flatMap((a) => {
    const type = str(a["type"]);
    const address = str(a["address"]);
    return type === undefined || address === undefined ? [] : [{ type, address }];
  });
  const conditions = objs(status?.["conditions"]).flatMap((c) => {
    const type = str(c["type"]);
    const s = str(c["status"]);
    if (type !== "Ready" || s === undefined) return [];
    const reason = str(c["reason"]);
    const message = str(c["message"]);
    return [{ type, status: s, ...(reason === undefined ? {} : { reason }), ...(message === undefined ? {} : { message: message.slice(0, 256) }) }];
  });
  return { metadata, status: { addresses, conditions } };
}

/** Services (of the controller's own namespace): the ClusterIP and the ports. */
export function leanService(raw: unknown): LeanService | undefined {
  const metadata = meta(raw);
  if (metadata === undefined) return undefined;
  const spec = obj(obj(raw)?.["spec"]);
  const clusterIP = str(spec?.["clusterIP"]);
  const ports = objs(spec?.["ports"]).flatMap((p) => {
    const port = p["port"];
    const name = str(p["name"]);
    return typeof port === "number" ? [{ port, ...(name === undefined ? {} : { name }) }] : [];
  });
  return { metadata, spec: { ports, ...(clusterIP === undefined ? {} : { clusterIP }) } };
}

function bool(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

function leanEndpoint(e: Json): LeanEndpoint {
  const c = obj(e["conditions"]);
  const t = obj(e["targetRef"]);
  const ready = bool(c?.["ready"]);
  const serving = bool(c?.["serving"]);
  const terminating = bool(c?.["terminating"]);
  const nodeName = str(e["nodeName"]);
  const ns = str(t?.["namespace"]);
  const name = str(t?.["name"]);
  const uid = str(t?.["uid"]);
  return {
    conditions: {
      ...(ready === undefined ? {} : { ready }),
      ...(serving === undefined ? {} : { serving }),
      ...(terminating === undefined ? {} : { terminating }),
    },
    ...(nodeName === undefined ? {} : { nodeName }),
    ...(t === undefined
      ? {}
      : { targetRef: { ...(ns === undefined ? {} : { namespace: ns }), ...(name === undefined ? {} : { name }), ...(uid === undefined ? {} : { uid }) } }),
  };
}

/** The cached endpoint says what `raw` says, in every field lameduck keeps. */
function unchanged(cached: LeanEndpoint, raw: Json): boolean {
  const c = obj(raw["conditions"]);
  const t = obj(raw["targetRef"]);
  return (
    cached.nodeName === str(raw["nodeName"]) &&
    cached.conditions?.ready === bool(c?.["ready"]) &&
    cached.conditions?.serving === bool(c?.["serving"]) &&
    cached.conditions?.terminating === bool(c?.["terminating"]) &&
    (cached.targetRef === undefined) === (t === undefined) &&
    cached.targetRef?.namespace === str(t?.["namespace"]) &&
    cached.targetRef?.name === str(t?.["name"]) &&
    cached.targetRef?.uid === str(t?.["uid"])
  );
}

/**
 * EndpointSlices: the port numbers and, per endpoint, its conditions, node and targetRef. An update
 * of a cached slice is made of the cached copy's parts wherever they did not change: each unchanged
 * endpoint, and the endpoints and ports arrays themselves when nothing in them changed. A rollout
 * rewrites every endpoint of a slice to change one; copying them all again on each update filled the
 * old generation during a burst of updates (V8 allocates where cached copies were made straight into
 * it), and the garbage collector marked the whole heap every second (npm run bench -- webhook).
 */
export function leanEndpointSlice(raw: unknown, cached?: LeanEndpointSlice): LeanEndpointSlice | undefined {
  const metadata = meta(raw);
  if (metadata === undefined) return undefined;
  const slice = obj(raw);
  const rawPorts = objs(slice?.["ports"]).flatMap((p) => (typeof p["port"] === "number" ? [p["port"]] : []));
  const ports =
    cached?.ports !== undefined && cached.ports.length === rawPorts.length && cached.ports.every((p, i) => p.port === rawPorts[i]) ? cached.ports : rawPorts.map((port) => ({ port }));
  const before = cached?.endpoints ?? [];
  const rawEndpoints = objs(slice?.["endpoints"]);
  let allSame = before.length === rawEndpoints.length;
  let byUid: Map<string, LeanEndpoint> | undefined;
  const endpoints = rawEndpoints.map((e, i) => {
    const atIndex = before[i];
    if (atIndex !== undefined && unchanged(atIndex, e)) return atIndex;
    allSame = false;
    const uid = str(obj(e["targetRef"])?.["uid"]);
    if (uid !== undefined && before.length > 0) {
      byUid ??= new Map(before.flatMap((b) => (b.targetRef?.uid === undefined ? [] : [[b.targetRef.uid, b] as const])));
      const found = byUid.get(uid);
      if (found !== undefined && unchanged(found, e)) return found;
    }
    return leanEndpoint(e);
  });
  return { metadata, ports, endpoints: allSame && cached?.endpoints !== undefined ? cached.endpoints : endpoints };
}

/**
 * SHA-256 over a ConfigMap's content: each data and binaryData entry as "<d|b>\0<key>\0<length>\0<value>",
 * keys sorted within each kind. The framing makes the encoding unambiguous, so two different
 * contents never hash the same input.
 */
export function configMapDigest(cm: { readonly data?: unknown; readonly binaryData?: unknown }): string {
  const sha = createHash("sha256");
  for (const [kind, entries] of [["d", obj(cm.data)], ["b", obj(cm.binaryData)]] as const) {
    for (const key of Object.keys(entries ?? {}).sort()) {
      const value = entries?.[key];
      const v = typeof value === "string" ? value : JSON.stringify(value ?? null);
      sha.update(`${kind}\0${key}\0${Buffer.byteLength(v)}\0`);
      sha.update(v);
    }
  }
  return sha.digest("hex");
}

/** ConfigMaps labelled as lameduck's: their name and the two labels the distributor reads. */
export function leanConfigMap(raw: unknown): LeanConfigMap | undefined {
  const metadata = meta(raw, { labels: (k) => k === Label.managedBy || k === Label.hook });
  return metadata === undefined ? undefined : { metadata };
}
