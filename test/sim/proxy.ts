// A simulated kube-proxy for one ClusterIP Service: a loopback TCP balancer. Each NEW connection goes
// round-robin to an endpoint that is routable in the slices as this proxy last applied them; slice
// changes are applied only after a propagation delay (see delayed.ts). Established connections stay
// where they are: bytes are piped both ways until either side closes. With no routable endpoint the
// connection is reset, as kube-proxy's REJECT rule refuses it.
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { makeDelayedView, realTimers, type Timers } from "./delayed.ts";
import { routableEndpoints, type Endpoint, type SliceLike } from "./endpoints.ts";

export interface ProxyOptions {
  readonly host: string;
  readonly portName: string;
  readonly drawDelayMs: () => number;
  readonly timers?: Timers;
  /** Called when a slice change takes effect, with the endpoints now routed to. */
  readonly onApply?: (endpoints: readonly Endpoint[]) => void;
}

export interface Proxy {
  readonly port: number;
  /** Feed the Service's full current set of EndpointSlices after every change. */
  offer(slices: readonly SliceLike[]): void;
  /** Routes by these slices at once, as a kube-proxy that has been running all along would. */
  syncNow(slices: readonly SliceLike[]): void;
  routed(): readonly Endpoint[];
  /** Slice changes not applied yet. */
  pending(): number;
  readonly stats: { accepted: number; rejected: number; upstreamErrors: number };
  close(): Promise<void>;
}

export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const view = makeDelayedView<readonly Endpoint[]>([], options.drawDelayMs, (eps) => options.onApply?.(eps), options.timers ?? realTimers);
  const sockets = new Set<Socket>();
  const stats = { accepted: 0, rejected: 0, upstreamErrors: 0 };
  let next = 0;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  const server = createServer((client) => {
    track(client);
    const endpoints = view.current();
    const target = endpoints[next++ % Math.max(1, endpoints.length)];
    if (!target) {
      stats.rejected++;
      client.resetAndDestroy();
      return;
    }
    stats.accepted++;
    const upstream = connect({ host: target.ip, port: target.port, noDelay: true });
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // A refused or reset upstream reaches the client as a reset, as it would through DNAT.
    upstream.on("error", () => {
      stats.upstreamErrors++;
      client.resetAndDestroy();
    });
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, options.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    offer: (slices) => {
      view.offer(routableEndpoints(slices, options.portName));
    },
    syncNow: (slices) => {
      view.reset(routableEndpoints(slices, options.portName));
    },
    routed: () => view.current(),
    pending: () => view.pending(),
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        view.close();
        for (const s of sockets) s.destroy();
        server.close(() => { resolve(); });
      }),
  };
}
