// The webhook's HTTPS listener. It serves POST /mutate (AdmissionReview v1) and GET /healthz (the
// listener is up); readiness and metrics live on the metrics server. HTTP-level refusals (404, 405,
// 408, 413, 415, 400) are for requests no API server sends; everything else is an AdmissionReview.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log.ts";
import type { AdmissionMetrics } from "./metrics.ts";
import type { ServingCertificate } from "../tls/source.ts";
import { reviewBody, type Review } from "./body.ts";

export const mutatePath = "/mutate";
/** controller-runtime's limit, derived from the API server's own request size limits. */
export const defaultBodyLimitBytes = 7 * 1024 * 1024;
/** The API server gives up on a webhook after its timeoutSeconds (at most 30). */
const defaultRequestTimeoutMs = 30_000;
/**
 * Longer than the API server's idle-connection timeout (90 s, client-go's transport default), so the
 * server does not close a kept-alive connection just as the API server sends a review on it.
 */
const keepAliveTimeoutMs = 120_000;

export interface WebhookServerOptions {
  readonly tls: ServingCertificate;
  readonly review: Review;
  readonly metrics: AdmissionMetrics;
  readonly logger: Logger;
  readonly bodyLimitBytes?: number;
  readonly requestTimeoutMs?: number;
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function isJson(contentType: string | undefined): boolean {
  return contentType?.split(";")[0]?.trim().toLowerCase() === "application/json";
}

export function makeWebhookServer(options: WebhookServerOptions): Server {
  const { metrics, logger } = options;
  const limit = options.bodyLimitBytes ?? defaultBodyLimitBytes;

  const handleMutate = (req: IncomingMessage, res: ServerResponse): void => {
    const stop = metrics.duration.startTimer();
    res.on("finish", () => stop());
    const refuse = (status: number, text: string): void => {
      metrics.reviews.inc({ result: "bad-request" });
      // The rest of the body is not read: close the connection rather than parse it as a request.
      sendText(res, status, text, { Connection: "close" });
    };
    if (req.method !== "POST") { sendText(res, 405, "POST an AdmissionReview\n", { Allow: "POST" }); return; }
    if (!isJson(req.headers["content-type"])) { refuse(415, "Content-Type must be application/json\n"); return; }
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) { refuse(413, `body larger than ${limit} bytes\n`); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        refuse(413, `body larger than ${limit} bytes\n`);
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", (err) => { logger.debug({ err }, "admission request stream failed"); });
    req.on("end", () => {
      if (refused) return;
      const reply = reviewBody(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size), options.review, logger, metrics);
      if (reply.status !== 200) { sendText(res, reply.status, `${reply.error}\n`); return; }
      const json = JSON.stringify(reply.review);
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(json) });
      res.end(json);
    });
  };

  const requestTimeout = options.requestTimeoutMs ?? defaultRequestTimeoutMs;
  const server = createServer(
    {
      cert: options.tls.cert,
      key: options.tls.key,
      minVersion: "TLSv1.2",
      // A review that has not arrived whole by then is answered 408 and its connection closed.
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 10_000),
      connectionsCheckingInterval: Math.max(100, Math.min(requestTimeout / 4, 5_000)),
      keepAliveTimeout: keepAliveTimeoutMs,
    },
    (req, res) => {
      const path = (req.url ?? "").split("?")[0];
      if (path === mutatePath) { handleMutate(req, res); return; }
      if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) { sendText(res, 200, "ok\n"); return; }
      sendText(res, 404, `not found; AdmissionReviews go to POST ${mutatePath}\n`);
    },
  );
  server.on("tlsClientError", (err) => { logger.debug({ err }, "TLS handshake failed"); });
  return server;
}
