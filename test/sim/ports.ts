// Loopback ports for the simulation's processes, which nobody else can take between the moment a
// port is chosen and the moment its process serves on it. Choosing a free port by listening on port 0
// and closing the listener again (the old `freePort()`) leaves it free for anyone: the kernel hands
// the same port to the next connect() or bind-to-0 of any process, and two demos at once saw a pod
// die of EADDRINUSE.
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * Listeners bound to port 0, so the kernel picks the port, held until the process that serves on
 * that port takes one over (the simulated kubelet hands it to the pod's app, see app.ts). A pod's
 * port is part of its spec (`containerPort`, which the Service's slices and the hook's quiet phase
 * follow), so it is bound when the pod is written, before the kubelet starts the app.
 */
export interface Listeners {
  /** Binds a new listener to a port the kernel picks; returns the port. */
  open(): Promise<number>;
  /** The listener held for this port, no longer held here: the caller passes it on or closes it. */
  take(port: number): Server | undefined;
  /** Closes the listeners nobody took. */
  close(): Promise<void>;
}

const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => { resolve(); });
  });

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export function makeListeners(host: string): Listeners {
  const held = new Map<number, Server>();
  return {
    async open() {
      const server = createServer();
      const port = await listen(server, host);
      held.set(port, server);
      return port;
    },
    take(port) {
      const server = held.get(port);
      held.delete(port);
      return server;
    },
    async close() {
      const left = [...held.values()];
      held.clear();
      await Promise.all(left.map(closeServer));
    },
  };
}

/**
 * A port for a process that binds it itself and cannot be handed a listener (the real lameduck
 * controller, started with --webhook-port=N and friends). The port is bound to port 0, then parked
 * in TIME_WAIT by closing an accepted connection from the server's side first: for the TIME_WAIT
 * period (60 s on Linux) the kernel's own choice of a port, for connect() and for a bind to port 0,
 * skips it, while a listener that sets SO_REUSEADDR, as every Node.js listener does, can still bind
 * it. The technique is Yelp's ephemeral-port-reserve.
 */
export async function reservePort(host: string): Promise<number> {
  const server = createServer();
  const port = await listen(server, host);
  try {
    const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
    const client = connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", resolve);
      client.once("error", reject);
    });
    const socket = await accepted;
    const clientClosed = new Promise((resolve) => client.once("close", resolve));
    const socketClosed = new Promise((resolve) => socket.once("close", resolve));
    // The side that sends the first FIN ends in TIME_WAIT: the server's, whose local port is `port`.
    client.once("end", () => client.end());
    socket.end();
    await Promise.all([clientClosed, socketClosed]);
  } finally {
    await closeServer(server);
  }
  return port;
}
