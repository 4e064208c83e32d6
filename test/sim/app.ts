// A typical application process, one per simulated pod: an HTTP/1.1 server with keep-alive that
// answers small responses after a little latency. On SIGTERM it shuts down like Go's
// http.Server.Shutdown: the listener closes at once (new connections are refused), idle keep-alive
// connections are closed, in-flight requests finish with `Connection: close`, connections that were
// accepted but have not sent a request yet get 5 s to send one, then it exits.
// `GET /stream?ms=N` is a long-lived stream, as a WebSocket or a gRPC server stream: a line every
// 100 ms, then `end` and the close after N ms. Go's Shutdown neither waits for nor closes such
// hijacked connections, and the process exit cuts them: this app cuts them at SIGTERM.
// Run as its own process: `node test/sim/app.ts --port=N [--latency-ms=N]` (0: a port the kernel
// picks), or with `--listener-from-parent` as the simulated kubelet runs it: its listening socket,
// bound when the pod was written (ports.ts), arrives over the IPC channel. Either way it prints
// `listening <port>` on stdout, with the port it serves on, once it accepts connections.
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer, Server, type AddressInfo, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { AppMessage } from "./appprocess.ts";

export interface AppOptions {
  readonly host: string;
  /** undefined: the listening socket comes from the parent (--listener-from-parent). */
  readonly port: number | undefined;
  readonly latencyMs: number;
}

export function parseAppArgs(argv: readonly string[]): AppOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      "listener-from-parent": { type: "boolean", default: false },
      "latency-ms": { type: "string", default: "5" },
    },
  });
  const fromParent = values["listener-from-parent"];
  if (fromParent === (values.port !== undefined)) throw new Error("app: give exactly one of --port and --listener-from-parent");
  const port = values.port === undefined ? undefined : Number(values.port);
  const latencyMs = Number(values["latency-ms"]);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error(`app: --port must be a TCP port or 0, got ${String(values.port)}`);
  if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new Error(`app: --latency-ms must be a non-negative number, got ${values["latency-ms"]}`);
  return { host: values.host, port, latencyMs };
}

/** The listening socket the parent holds for this app (appprocess.ts), asked for once it can arrive. */
function listenerFromParent(): Promise<Server> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error("app: --listener-from-parent needs an IPC channel to its parent"));
      return;
    }
    process.once("message", (message: unknown, handle: unknown) => {
      if (message === AppMessage.listener && handle instanceof Server) resolve(handle);
      else reject(new Error(`app: expected the message "${AppMessage.listener}" with a listening socket, got ${JSON.stringify(message)}`));
      // Nothing else comes over the channel; left open, it would keep this process alive.
      process.disconnect();
    });
    process.send(AppMessage.askListener);
  });
}

interface Conn {
  readonly acceptedAt: number;
  served: number;
  inFlight: number;
  /** Carries a stream: cut at SIGTERM rather than waited for. */
  stream: boolean;
}

// Go's closeIdleConns treats a connection that never sent a request as idle only after 5 s.
const newConnGraceMs = 5000;
const shutdownPollMs = 10;
const streamTickMs = 100;
/** Longest stream the app serves; the simulation's are seconds long. */
const maxStreamMs = 600_000;

/** The stream length asked for in `/stream?ms=N`, or undefined when this is not a stream request. */
export function streamMs(url: string | undefined): number | undefined {
  const match = /^\/stream\?ms=(\d{1,9})$/.exec(url ?? "");
  if (match === null) return undefined;
  return Math.min(Number(match[1]), maxStreamMs);
}

async function main(options: AppOptions): Promise<void> {
  let shuttingDown = false;
  const conns = new Map<Socket, Conn>();
  const http = createHttpServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const conn = conns.get(req.socket);
    if (conn) conn.inFlight++;
    req.resume();
    const ms = streamMs(req.url);
    if (ms !== undefined) {
      if (conn) conn.stream = true;
      res.writeHead(200, { "Content-Type": "text/plain", Connection: "close" });
      const ticks = setInterval(() => res.write("tick\n"), streamTickMs);
      const done = setTimeout(() => res.end("end\n"), ms);
      res.on("close", () => {
        clearInterval(ticks);
        clearTimeout(done);
      });
      return;
    }
    setTimeout(() => {
      // Shutdown disables keep-alive, so a response finished during shutdown closes its connection.
      if (shuttingDown) res.setHeader("Connection", "close");
      res.setHeader("Content-Type", "text/plain");
      res.end(`ok ${String(process.pid)}\n`);
    }, options.latencyMs);
    res.on("finish", () => {
      if (!conn) return;
      conn.inFlight--;
      conn.served++;
    });
  });
  // The listener is a plain TCP server handing sockets to the HTTP server, so that closing it stops
  // accepting without Node's http close() destroying connections that have not sent a request yet.
  const onConnection = (socket: Socket): void => {
    conns.set(socket, { acceptedAt: Date.now(), served: 0, inFlight: 0, stream: false });
    socket.on("close", () => conns.delete(socket));
    http.emit("connection", socket);
  };
  let listener: Server;
  if (options.port === undefined) {
    listener = await listenerFromParent();
    listener.on("connection", onConnection);
  } else {
    listener = createTcpServer(onConnection);
    const port = options.port;
    await new Promise<void>((resolve) => listener.listen(port, options.host, resolve));
  }
  process.stdout.write(`listening ${String((listener.address() as AddressInfo).port)}\n`);
  const closeIdle = (): void => {
    const now = Date.now();
    for (const [socket, conn] of conns) {
      if (conn.stream || (conn.inFlight === 0 && (conn.served > 0 || now - conn.acceptedAt >= newConnGraceMs))) socket.destroy();
    }
    if (conns.size === 0) process.exit(0);
  };
  process.on("SIGTERM", () => {
    if (shuttingDown) return;
    shuttingDown = true;
    listener.close();
    closeIdle();
    // Bounded by the kubelet, which sends SIGKILL when the grace period is over.
    setInterval(closeIdle, shutdownPollMs);
  });
}

if (import.meta.main) await main(parseAppArgs(process.argv.slice(2)));
