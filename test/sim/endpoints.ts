// Which endpoints a simulated kube-proxy routes new connections of a ClusterIP Service to, from the
// Service's EndpointSlices: the ready ones (`ready` is true or unset, and not terminating). When
// none is ready it falls back to endpoints that are serving and terminating (KEP-1669, kube-proxy's
// `CategorizeEndpoints`), so a Service whose pods are all shutting down keeps answering.

/** The fields of a discovery.k8s.io/v1 EndpointSlice read here (V1EndpointSlice fits). */
export interface SliceLike {
  readonly ports?: readonly { readonly name?: string; readonly port?: number }[];
  readonly endpoints?: readonly {
    readonly addresses: readonly string[];
    readonly conditions?: { readonly ready?: boolean; readonly serving?: boolean; readonly terminating?: boolean };
    readonly targetRef?: { readonly name?: string };
  }[];
}

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  readonly pod: string;
}

/** One endpoint's state in the slices: what a consumer tracks per target. */
export interface EndpointState extends Endpoint {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

/** Each endpoint's state, keyed by `ip:port` (one key per target a consumer programs). */
export function endpointStates(slices: readonly SliceLike[], portName: string): Map<string, EndpointState> {
  const states = new Map<string, EndpointState>();
  for (const slice of slices) {
    const port = slice.ports?.find((p) => (p.name ?? "") === portName)?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      const ip = ep.addresses[0];
      if (ip === undefined) continue;
      const c = ep.conditions;
      states.set(`${ip}:${String(port)}`, {
        ip,
        port,
        pod: ep.targetRef?.name ?? ip,
        ready: c?.ready !== false,
        serving: c?.serving !== false,
        terminating: c?.terminating === true,
      });
    }
  }
  return states;
}

export function sameEndpointState(a: EndpointState, b: EndpointState): boolean {
  return a.ip === b.ip && a.port === b.port && a.pod === b.pod && a.ready === b.ready && a.serving === b.serving && a.terminating === b.terminating;
}

export function chooseRoutable(states: Iterable<EndpointState>): Endpoint[] {
  const ready: Endpoint[] = [];
  const servingTerminating: Endpoint[] = [];
  for (const s of states) {
    const endpoint = { ip: s.ip, port: s.port, pod: s.pod };
    if (s.ready && !s.terminating) ready.push(endpoint);
    else if (s.serving && s.terminating) servingTerminating.push(endpoint);
  }
  const chosen = ready.length > 0 ? ready : servingTerminating;
  // A stable order keeps round-robin fair across updates that only reorder the slices.
  return chosen.sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
}

export function routableEndpoints(slices: readonly SliceLike[], portName: string): Endpoint[] {
  return chooseRoutable(endpointStates(slices, portName).values());
}
