// A typical application process, one per simulated pod: an HTTP/1.1 server with keep-alive that
// answers small responses after a little latency. On SIGTERM it shuts down like Go's
// http.Server.Shutdown: the listener closes at once (new connections are refused), idle keep-alive
// connections are closed, in-flight requests finish with `Connection: close`, connections that were
// accepted but have not sent a request yet get 5 s to send one, then it exits.
// Run as its own process: `node test/sim/app.ts --port=N [--latency-ms=N]`; it prints
// `listening <port>` on stdout once it accepts connections.
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import { parseArgs } from "node:util";

export interface AppOptions {
  readonly host: string;
  readonly port: number;
  readonly latencyMs: number;
}

export function parseAppArgs(argv: readonly string[]): AppOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      "latency-ms": { type: "string", default: "5" },
    },
  });
  const port = Number(values.port);
  const latencyMs = Number(values["latency-ms"]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`app: --port must be a TCP port, got ${String(values.port)}`);
  if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new Error(`app: --latency-ms must be a non-negative number, got ${values["latency-ms"]}`);
  return { host: values.host, port, latencyMs };
}

interface Conn {
  readonly acceptedAt: number;
  served: number;
  inFlight: number;
}

// Go's closeIdleConns treats a connection that never sent a request as idle only after 5 s.
const newConnGraceMs = 5000;
const shutdownPollMs = 10;

function main(options: AppOptions): void {
  let shuttingDown = false;
  const conns = new Map<Socket, Conn>();
  const http = createHttpServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const conn = conns.get(req.socket);
    if (conn) conn.inFlight++;
    req.resume();
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
  const listener = createTcpServer((socket) => {
    conns.set(socket, { acceptedAt: Date.now(), served: 0, inFlight: 0 });
    socket.on("close", () => conns.delete(socket));
    http.emit("connection", socket);
  });
  listener.listen(options.port, options.host, () => {
    process.stdout.write(`listening ${String(options.port)}\n`);
  });
  const closeIdle = (): void => {
    const now = Date.now();
    for (const [socket, conn] of conns) {
      if (conn.inFlight === 0 && (conn.served > 0 || now - conn.acceptedAt >= newConnGraceMs)) socket.destroy();
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

if (import.meta.main) main(parseAppArgs(process.argv.slice(2)));
