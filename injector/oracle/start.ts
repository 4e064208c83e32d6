// Puts the oracle together: the EndpointSlice informer feeds the index, each event wakes the askers
// of the pods it touched, and the HTTP server answers from it.
import type { Registry } from "prom-client";
import type { Informer } from "../informers/informer.ts";
import type { NodeLike } from "../informers/facts.ts";
import type { LeanEndpointSlice } from "../informers/lean.ts";
import type { Logger } from "../log.ts";
import { makeOracle, type Oracle } from "./oracle.ts";
import { startOracleServer, type OracleServer } from "./server.ts";
import { makeSliceIndex } from "./slices.ts";
import type { PodRef } from "./state.ts";

export interface DrainOracleDeps {
  readonly slices: Informer<LeanEndpointSlice>;
  readonly nodes: Informer<NodeLike>;
  readonly host: string;
  readonly port: number;
  readonly maxWaits: number;
  readonly registry: Registry;
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
  const oracle = makeOracle({
    index,
    maxWaits: deps.maxWaits,
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
    logger: deps.logger.child({ component: "oracle" }),
    // Held waits plus room for requests still arriving or being turned away with 503.
    maxConnections: deps.maxWaits + 1024,
  });
  return { oracle, port: server.port, close: () => server.close() };
}
