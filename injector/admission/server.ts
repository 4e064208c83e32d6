// The webhook's HTTPS listener. It serves POST /mutate (AdmissionReview v1) and GET /healthz (the
// listener is up); readiness and metrics live on the metrics server. HTTP-level refusals (404, 405,
// 408, 413, 415, 400) are for requests no API server sends; everything else is an AdmissionReview.
// Anyone who can reach the port may connect, so time, memory and connections are bounded (limits).
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "../log.ts";
import type { ServingCertificate } from "../tls/source.ts";
import { makeBodyBudget } from "./body-budget.ts";
import { reviewBody, type Review } from "./body.ts";
import type { AdmissionMetrics } from "./metrics.ts";

export const mutatePath = "/mutate";

/** The listener's bounds, each chosen from how the API server calls webhooks. */
export interface WebhookLimits {
  /**
   * Largest body accepted (413 beyond): controller-runtime's limit, derived from the API server's
   * 3 MiB request limit (the object as JSON with defaults applied can be larger than the request).
   */
  readonly maxBodyBytes: number;
  /**
   * Body bytes held across all connections at once: twice the largest body. Past it the request
   * holding the most gives way with 503, Retry-After: 1 and Connection: close; the API server's
   * client retries that once a second within the webhook's timeout, then fails open.
   */
  readonly bodyBudgetBytes: number;
  /**
   * Connections at once; more are closed as they arrive. An API server calls webhooks from at most
   * 200 requests at a time by default (--max-mutating-requests-inflight), one HTTP/1.1 connection
   * each; an idle TLS connection costs about 60 KB here, so 512 hold about 30 MB.
   */
  readonly maxConnections: number;
  /** To complete the TLS handshake (Node's default is 120 s): the API server's client needs milliseconds. */
  readonly handshakeTimeoutMs: number;
  /**
   * Silence allowed on a connection that has not finished a request: the API server writes its
   * review as soon as it has connected.
   */
  readonly idleTimeoutMs: number;
  /** For a whole request to arrive (408 beyond): the API server gives up on a webhook after at most 30 s. */
  readonly requestTimeoutMs: number;
  /**
   * Between requests on a kept-alive connection: longer than the API server's own idle timeout
   * (90 s, client-go's transport default), so that the client, not the server, closes it and a
   * review is never sent on a connection being closed.
   */
  readonly keepAliveTimeoutMs: number;
}

export const webhookLimits: WebhookLimits = Object.freeze({
  maxBodyBytes: 7 * 1024 * 1024,
  bodyBudgetBytes: 14 * 1024 * 1024,
  maxConnections: 512,
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 120_000,
});

export interface WebhookServerOptions {
  readonly tls: ServingCertificate;
  readonly review: Review;
  readonly metrics: AdmissionMetrics;
  readonly logger: Logger;
  /** Tests tighten these. */
  readonly limits?: Partial<WebhookLimits>;
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
  const limits: WebhookLimits = { ...webhookLimits, ...options.limits };
  const budget = makeBodyBudget(limits.bodyBudgetBytes);
  /** Connections that have had a request: their silence between requests is keep-alive, not idleness. */
  const served = new WeakSet<Socket>();

  const handleMutate = (req: IncomingMessage, res: ServerResponse): void => {
    const stop = metrics.duration.startTimer();
    res.on("finish", () => stop());
    let done = false;
    /** Answers without reading the rest of the body, and closes the connection rather than parse it as a request. */
    const refuse = (status: number, text: string, headers: Record<string, string> = {}): void => {
      done = true;
      if (!res.headersSent) sendText(res, status, text, { Connection: "close", ...headers });
    };
    const badRequest = (status: number, text: string): void => {
      metrics.reviews.inc({ result: "bad-request" });
      refuse(status, text);
    };
    if (req.method !== "POST") { sendText(res, 405, "POST an AdmissionReview\n", { Allow: "POST" }); return; }
    if (!isJson(req.headers["content-type"])) { badRequest(415, "Content-Type must be application/json\n"); return; }
    const limit = limits.maxBodyBytes;
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) { badRequest(413, `body larger than ${limit} bytes\n`); return; }
    let chunks: Buffer[] = [];
    let size = 0;
    const claim = budget.claim(() => {
      chunks = [];
      metrics.refused.inc({ reason: "body-budget" });
      logger.warn({ bytes: size, heldBytes: budget.held() }, "webhook busy: request body dropped for the body budget");
      refuse(503, "webhook busy: too many request bytes held at once; retry\n", { "Retry-After": "1" });
    });
    res.on("close", () => { claim.release(); metrics.bodyBytesHeld.set(budget.held()); });
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        claim.release();
        badRequest(413, `body larger than ${limit} bytes\n`);
        return;
      }
      if (!claim.add(chunk.length)) {
        // This request held the most: it gives way itself.
        chunks = [];
        metrics.refused.inc({ reason: "body-budget" });
        refuse(503, "webhook busy: too many request bytes held at once; retry\n", { "Retry-After": "1" });
        return;
      }
      metrics.bodyBytesHeld.set(budget.held());
      chunks.push(chunk);
    });
    req.on("error", (err) => { logger.debug({ err }, "admission request stream failed"); });
    req.on("end", () => {
      if (done) return;
      done = true;
      const body = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size);
      chunks = [];
      const reply = reviewBody(body, options.review, logger, metrics);
      claim.release();
      metrics.bodyBytesHeld.set(budget.held());
      if (reply.status !== 200) { sendText(res, reply.status, `${reply.error}\n`); return; }
      const json = JSON.stringify(reply.review);
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(json) });
      res.end(json);
    });
  };

  const server = createServer(
    {
      cert: options.tls.cert,
      key: options.tls.key,
      minVersion: "TLSv1.2",
      handshakeTimeout: limits.handshakeTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: Math.min(limits.requestTimeoutMs, 10_000),
      connectionsCheckingInterval: Math.max(100, Math.min(limits.requestTimeoutMs / 4, 5_000)),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    },
    (req, res) => {
      served.add(req.socket);
      const path = (req.url ?? "").split("?")[0];
      if (path === mutatePath) { handleMutate(req, res); return; }
      if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) { sendText(res, 200, "ok\n"); return; }
      sendText(res, 404, `not found; AdmissionReviews go to POST ${mutatePath}\n`);
    },
  );
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleTimeoutMs);
  server.on("timeout", (socket: Socket) => {
    // Node calls this for a connection silent for idleTimeoutMs before its first request, and for a
    // kept-alive one when keepAliveTimeoutMs ends; a listener here must close the socket itself.
    if (!served.has(socket)) metrics.refused.inc({ reason: "idle-timeout" });
    socket.destroy();
  });
  server.on("connection", (socket: Socket) => {
    metrics.connections.inc();
    socket.once("close", () => { metrics.connections.dec(); });
  });
  server.on("drop", () => {
    metrics.refused.inc({ reason: "connection-limit" });
  });
  server.on("tlsClientError", (err: NodeJS.ErrnoException) => {
    if (err.code === "ERR_TLS_HANDSHAKE_TIMEOUT") metrics.refused.inc({ reason: "handshake-timeout" });
    logger.debug({ err }, "TLS handshake failed");
  });
  return server;
}
