// A real HTTPS client for the webhook tests: requests verified against a given CA.
import { Agent, request } from "node:https";
import { TLSSocket } from "node:tls";
import { createCa, issueServing, type KeyPairPem } from "../../injector/tls/certs.ts";

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export async function testPki(): Promise<{ ca: KeyPairPem; serving: KeyPairPem }> {
  const now = new Date();
  const ca = await createCa(now);
  const serving = await issueServing(ca, { dns: ["localhost"], ips: ["127.0.0.1"] }, now);
  return { ca, serving };
}

export interface PostOptions {
  readonly ca: string;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly agent?: Agent;
  /** Send the body in chunks without a Content-Length. */
  readonly chunked?: boolean;
}

export function httpsRequest(port: number, body: string | Buffer | undefined, options: PostOptions): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: options.method ?? "POST",
        path: options.path ?? "/mutate",
        ca: options.ca,
        agent: options.agent ?? false,
        headers: {
          "Content-Type": "application/json",
          ...(body === undefined || options.chunked === true ? {} : { "Content-Length": String(Buffer.byteLength(body)) }),
          ...options.headers,
        },
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }); });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    if (body !== undefined && options.chunked === true) {
      const buf = Buffer.from(body);
      for (let i = 0; i < buf.length; i += 64 * 1024) req.write(buf.subarray(i, i + 64 * 1024));
    } else if (body !== undefined) {
      req.write(body);
    }
    req.end();
  });
}

/** SHA-256 fingerprint of the certificate the server presents on a fresh connection. */
export function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "GET", path: "/healthz", ca, agent: false }, (res) => {
      const socket = res.socket;
      if (!(socket instanceof TLSSocket)) throw new Error("not a TLS connection");
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      res.resume();
      res.on("end", () => { resolve(fingerprint); });
    });
    req.on("error", reject);
    req.end();
  });
}
