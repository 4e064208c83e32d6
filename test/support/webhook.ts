// A test mutating webhook: an HTTPS server on a loopback port that records every AdmissionReview it
// receives and answers with what the test's handler returns.
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TestPki } from "./tls.ts";

export type Review = { request: Record<string, unknown> & { uid: string; object: Record<string, unknown> } };
/** `patch` is sent as JSON Patch (base64 of its JSON), whatever it is: tests of bad patches send non-arrays. */
export type Answer = { allowed: boolean; patch?: unknown; warnings?: string[]; status?: { code?: number; message?: string; reason?: string } } | "raw-garbage";

export interface TestWebhook {
  readonly url: string;
  readonly reviews: Review[];
  close(): Promise<void>;
}

export async function startTestWebhook(pki: TestPki, handle: (review: Review) => Answer | Promise<Answer>): Promise<TestWebhook> {
  const reviews: Review[] = [];
  const server = createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Review;
        reviews.push(review);
        const answer = await handle(review);
        if (answer === "raw-garbage") {
          res.writeHead(200, { "Content-Type": "application/json" }).end("{not json");
          return;
        }
        const response: Record<string, unknown> = { uid: review.request.uid, allowed: answer.allowed };
        if (answer.patch !== undefined) {
          response["patchType"] = "JSONPatch";
          response["patch"] = Buffer.from(JSON.stringify(answer.patch)).toString("base64");
        }
        if (answer.warnings !== undefined) response["warnings"] = answer.warnings;
        if (answer.status !== undefined) response["status"] = answer.status;
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response }));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => { resolve(); }));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${String(port)}/mutate`,
    reviews,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => { resolve(); });
    }),
  };
}
