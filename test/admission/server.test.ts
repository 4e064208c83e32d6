import { readFileSync } from "node:fs";
import { Agent, type Server } from "node:https";
import { connect } from "node:tls";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeWebhookServer } from "../../injector/admission/server.ts";
import { silentLogger } from "../../injector/log.ts";
import { makeTestReviewer } from "../support/admission.ts";
import { httpsRequest, testPki } from "../support/https.ts";

const recorded = readFileSync(join(import.meta.dirname, "..", "fixtures", "real", "admission-deployment-pod.json"), "utf8");
const recordedUid = (JSON.parse(recorded) as { request: { uid: string } }).request.uid;
const bodyLimit = 256 * 1024;

let server: Server;
let port: number;
let ca: string;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

beforeAll(async () => {
  const pki = await testPki();
  ca = pki.ca.cert;
  const { review, metrics } = makeTestReviewer();
  server = makeWebhookServer({ tls: pki.serving, review, metrics, logger: silentLogger, limits: { maxBodyBytes: bodyLimit } });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  agent.destroy();
  await new Promise<void>((resolve) => {
    server.close(() => { resolve(); });
    server.closeAllConnections();
  });
});

function parseReview(body: string): { uid: unknown; allowed: unknown; patch?: unknown } {
  const review = JSON.parse(body) as { apiVersion: string; kind: string; response: { uid: unknown; allowed: unknown; patch?: unknown } };
  expect(review.apiVersion).toBe("admission.k8s.io/v1");
  expect(review.kind).toBe("AdmissionReview");
  return review.response;
}

describe("the webhook's HTTPS endpoint", () => {
  it("answers 408 and closes the connection when a review does not arrive in time", async () => {
    const pki = await testPki();
    const { review, metrics } = makeTestReviewer();
    const slow = makeWebhookServer({ tls: pki.serving, review, metrics, logger: silentLogger, limits: { requestTimeoutMs: 300 } });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const slowPort = (slow.address() as AddressInfo).port;
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: slowPort, ca: pki.ca.cert }, () => {
          socket.write(`POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${recorded.length}\r\n\r\n${recorded.slice(0, 100)}`);
        });
        let received = "";
        socket.on("data", (d: Buffer) => (received += d.toString()));
        socket.on("close", () => { resolve(received); });
        socket.on("error", reject);
        setTimeout(() => socket.destroy(new Error("the server kept a stalled request open")), 15_000).unref();
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await new Promise<void>((resolve) => {
        slow.close(() => { resolve(); });
        slow.closeAllConnections();
      });
    }
  });

  it("answers a recorded review over HTTPS verified against the CA, with a patch and the uid", async () => {
    const answer = await httpsRequest(port, recorded, { ca });
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("application/json");
    const response = parseReview(answer.body);
    expect(response).toMatchObject({ uid: recordedUid, allowed: true });
    expect(typeof response.patch).toBe("string");
  });

  it("is refused by a client that trusts another CA", async () => {
    const other = await testPki();
    await expect(httpsRequest(port, recorded, { ca: other.ca.cert })).rejects.toThrow();
  });

  it("accepts application/json with a charset and refuses other content types with 415", async () => {
    expect((await httpsRequest(port, recorded, { ca, headers: { "Content-Type": "application/json; charset=utf-8" } })).status).toBe(200);
    expect((await httpsRequest(port, recorded, { ca, headers: { "Content-Type": "text/plain" } })).status).toBe(415);
    expect((await httpsRequest(port, recorded, { ca, headers: { "Content-Type": "application/yaml" } })).status).toBe(415);
  });

  it("refuses bodies over the limit with 413, declared or streamed", async () => {
    const big = JSON.stringify({ padding: "x".repeat(bodyLimit) });
    expect((await httpsRequest(port, big, { ca })).status).toBe(413);
    expect((await httpsRequest(port, big, { ca, chunked: true })).status).toBe(413);
  });

  it("serves /healthz, refuses GET /mutate with 405 and unknown paths with 404", async () => {
    expect((await httpsRequest(port, undefined, { ca, method: "GET", path: "/healthz" })).status).toBe(200);
    expect((await httpsRequest(port, undefined, { ca, method: "GET", path: "/mutate" })).status).toBe(405);
    expect((await httpsRequest(port, recorded, { ca, path: "/validate" })).status).toBe(404);
  });

  it("answers malformed, truncated, oversized and wrong-kind bodies with an AdmissionReview or a 4xx, and keeps serving", async () => {
    const uid = fc.oneof(fc.uuid(), fc.constant(recordedUid));
    const body = fc.oneof(
      fc.nat({ max: recorded.length }).map((n) => recorded.slice(0, n)),
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.record({ apiVersion: fc.constantFrom("admission.k8s.io/v1", "admission.k8s.io/v1beta1", "v1", 7), kind: fc.constantFrom("AdmissionReview", "Pod", null), request: fc.record({ uid }) }).map((v) => JSON.stringify(v)),
      fc.record({ uid, operation: fc.constantFrom("CREATE", "UPDATE", "DELETE", "CONNECT"), kind: fc.record({ group: fc.constantFrom("", "apps"), kind: fc.constantFrom("Pod", "Binding", "Deployment") }), object: fc.jsonValue({ maxDepth: 4 }) }).map((request) =>
        JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { resource: { resource: "pods" }, namespace: "shop", ...request } }),
      ),
      fc.jsonValue({ maxDepth: 4 }).map((object) => {
        const review = JSON.parse(recorded) as { request: Record<string, unknown> };
        review.request["object"] = object;
        return JSON.stringify(review);
      }),
      fc.constant(JSON.stringify({ padding: "x".repeat(bodyLimit + 1) })),
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const answer = await httpsRequest(port, text, { ca, agent });
        if (answer.status === 200) {
          const response = parseReview(answer.body);
          expect(response.allowed).toBe(true);
          expect(typeof response.uid).toBe("string");
        } else {
          expect(answer.status).toBeGreaterThanOrEqual(400);
          expect(answer.status).toBeLessThan(500);
        }
      }),
      { numRuns: 150 },
    );
    expect((await httpsRequest(port, recorded, { ca })).status).toBe(200);
  });
});
