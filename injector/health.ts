// /metrics, /healthz and /readyz on --metrics-port. Liveness says only that the event loop turns;
// readiness says the caches are warm and the webhook can serve TLS, so no replica takes admission
// requests or drain questions it would answer from an empty cache.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface HealthDeps {
  readonly registry: Registry;
  /** undefined when ready, else why not (the body of the 503). */
  readonly unready: () => string | undefined;
  readonly host: string;
  readonly port: number;
}

export async function startHealthServer(deps: HealthDeps): Promise<HealthServer> {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const text = (status: number, body: string): void => {
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      text(405, "method not allowed\n");
      return;
    }
    switch (path) {
      case "/healthz":
        text(200, "ok\n");
        return;
      case "/readyz": {
        const reason = deps.unready();
        if (reason === undefined) text(200, "ok\n");
        else text(503, `not ready: ${reason}\n`);
        return;
      }
      case "/metrics":
        deps.registry.metrics().then(
          (body) => {
            res.writeHead(200, { "Content-Type": deps.registry.contentType });
            res.end(body);
          },
          (err: unknown) => {
            text(500, `collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
          },
        );
        return;
      default:
        text(404, "not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: deps.host, port: deps.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
