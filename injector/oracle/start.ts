// Puts the oracle together: the EndpointSlice informer feeds the index, each event wakes the askers
// of the pods it touched, and the HTTP server answers from it.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import { makeRawClient } from "../informers/client.ts";
import type { Informer } from "../informers/informer.ts";
import type { NodeLike } from "../informers/cached-facts.ts";
import type { LeanEndpointSlice } from "../informers/lean.ts";
import type { Logger } from "../log.ts";
import { makeOracle, type Oracle } from "./oracle.ts";
import { makePodChecker, type PodLookup } from "./podcheck.ts";
import { startOracleServer, type OracleServer } from "./server.ts";
import { makeSliceIndex } from "./slices.ts";
import type { PodRef } from "./state.ts";

export interface DrainOracleDeps {
  readonly slices: Informer<LeanEndpointSlice>;
  readonly nodes: Informer<NodeLike>;
  readonly host: string;
  readonly port: number;
  readonly maxWaits: number;
  readonly maxWaitsPerClient: number;
  readonly registry: Registry;
  /** For the one pod lookup per terminating pod (podcheck.ts); tests may pass `lookup` instead. */
  readonly kc: KubeConfig;
  readonly lookup?: PodLookup;
  readonly logger: Logger;
  readonly onDrained?: (ref: PodRef, seconds: number) => void;
}

export interface DrainOracle extends OracleServer {
  readonly oracle: Oracle;
}

/** The node's InternalIP: the source address of the kubelet's probes, which the quiet phase ignores. */
export function nodeInternalIp(node: NodeLike | undefined): string | undefined {
  return node?.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
}

export async function startDrainOracle(deps: DrainOracleDeps): Promise<DrainOracle> {
  const index = makeSliceIndex();
  const log = deps.logger.child({ component: "oracle" });
  index.onForeign((namespace, slice, endpoints) => {
    log.warn({ namespace, slice, endpoints }, "EndpointSlice lists pods of another namespace; those endpoints are ignored");
  });
  const raw = makeRawClient(deps.kc);
  const lookup: PodLookup =
    deps.lookup ?? ((namespace, name, signal) => raw.get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, signal));
  const oracle = makeOracle({
    index,
    maxWaits: deps.maxWaits,
    maxWaitsPerClient: deps.maxWaitsPerClient,
    check: makePodChecker({ lookup, registry: deps.registry }),
    registry: deps.registry,
    ...(deps.onDrained === undefined ? {} : { onDrained: deps.onDrained }),
  });
  const upsert = (slice: LeanEndpointSlice): void => {
    oracle.changed(index.upsert(slice));
  };
  deps.slices.onAdd(upsert);
  deps.slices.onUpdate(upsert);
  deps.slices.onDelete((slice) => {
    oracle.changed(index.remove(slice));
  });
  // Slices cached before these handlers were registered (none when started before the informer).
  for (const slice of deps.slices.list()) index.upsert(slice);
  const server = await startOracleServer({
    oracle,
    isSynced: () => deps.slices.hasSynced(),
    nodeAddress: (name) => nodeInternalIp(deps.nodes.get(name)),
    host: deps.host,
    port: deps.port,
    logger: log,
    // Held waits plus room for requests still arriving or being turned away with 503.
    maxConnections: deps.maxWaits + 1024,
  });
  return { oracle, port: server.port, close: () => server.close() };
}
