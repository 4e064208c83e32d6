// A loopback HTTP proxy that records every request one client makes before passing it to the API
// server: the controller is pointed at it, so its requests are told apart from the test's own.
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

export interface Recorded {
  readonly method: string;
  readonly url: string;
  status: number;
}

export interface RecordingProxy {
  readonly url: string;
  readonly requests: readonly Recorded[];
  /** A kubeconfig whose server is this proxy. */
  kubeConfig(): KubeConfig;
  close(): Promise<void>;
}

export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const entry: Recorded = { method: req.method ?? "GET", url: req.url ?? "/", status: 0 };
    requests.push(entry);
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      entry.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      // A watch answers headers first and events later; clients wait for the headers.
      res.flushHeaders();
      upRes.pipe(res);
    });
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "proxy", server: url, skipTLSVerify: true }],
        users: [{ name: "controller" }],
        contexts: [{ name: "proxy", cluster: "proxy", user: "controller" }],
        currentContext: "proxy",
      });
      return kc;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => { resolve(); });
        server.closeAllConnections();
      }),
  };
}
