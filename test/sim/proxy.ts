// A simulated kube-proxy for one ClusterIP Service: a loopback TCP balancer. Each NEW connection goes
// round-robin to an endpoint that is routable in the slices as this proxy last applied them; slice
// changes are applied only after a propagation delay (see delayed.ts): per endpoint by default, each
// endpoint's change after its own delay; or, as the explicitly named "in-order" model, whole
// snapshots through one in-order queue. Established connections stay
// where they are: bytes are piped both ways until either side closes. With no routable endpoint the
// connection is reset, as kube-proxy's REJECT rule refuses it.
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { makeDelayedView, makeKeyedDelayedView, realTimers, type Timers } from "./delayed.ts";
import { chooseRoutable, endpointStates, routableEndpoints, sameEndpointState, type Endpoint, type EndpointState, type SliceLike } from "./endpoints.ts";

export const Propagation = { perEndpoint: "per-endpoint", inOrder: "in-order" } as const;
export type Propagation = (typeof Propagation)[keyof typeof Propagation];

export interface ProxyOptions {
  readonly host: string;
  readonly portName: string;
  readonly drawDelayMs: () => number;
  readonly timers?: Timers;
  /** How slice changes reach the routing table; per endpoint unless said otherwise. */
  readonly propagation?: Propagation;
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

/** The proxy's delayed routing table, under one propagation model. */
interface RoutingView {
  offer(slices: readonly SliceLike[]): void;
  reset(slices: readonly SliceLike[]): void;
  current(): readonly Endpoint[];
  pending(): number;
  close(): void;
}

function makeRoutingView(options: ProxyOptions): RoutingView {
  const timers = options.timers ?? realTimers;
  if (options.propagation === Propagation.inOrder) {
    const view = makeDelayedView<readonly Endpoint[]>([], options.drawDelayMs, (eps) => options.onApply?.(eps), timers);
    return {
      offer: (slices) => { view.offer(routableEndpoints(slices, options.portName)); },
      reset: (slices) => { view.reset(routableEndpoints(slices, options.portName)); },
      current: () => view.current(),
      pending: () => view.pending(),
      close: () => { view.close(); },
    };
  }
  // The terminating fallback is decided over the endpoint states applied so far, as kube-proxy
  // decides it at each sync over what it has seen.
  let routed: readonly Endpoint[] = [];
  const view = makeKeyedDelayedView<EndpointState>(
    options.drawDelayMs,
    sameEndpointState,
    (states) => {
      routed = chooseRoutable(states.values());
      options.onApply?.(routed);
    },
    timers,
  );
  return {
    offer: (slices) => { view.offer(endpointStates(slices, options.portName)); },
    reset: (slices) => { view.reset(endpointStates(slices, options.portName)); },
    current: () => routed,
    pending: () => view.pending(),
    close: () => { view.close(); },
  };
}

/**
 * Resets the connection (RST), or only closes it once its sending side has been ended: libuv refuses
 * a reset while a shutdown is pending (uv_tcp_close_reset: UV_EINVAL), and Node then emits the error
 * and drops the handle without ever closing it. Such a handle is invisible to JavaScript and keeps
 * nothing alive, but Node's teardown waits for it after the 'exit' event, spinning forever: that
 * was the demo that printed its results and never ended (issue 18). Ended here means the upstream
 * closed first and its FIN was passed on by pipe(); the client learns the rest from the close.
 */
export function resetOrClose(socket: Socket): void {
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const view = makeRoutingView(options);
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
      resetOrClose(client);
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
      view.offer(slices);
    },
    syncNow: (slices) => {
      view.reset(slices);
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
