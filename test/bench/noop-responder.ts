// The baseline of webhook.bench.ts: an HTTPS server in a process of its own (the image's Node flags
// too) that reads each body and answers a fixed AdmissionReview of the webhook's answer's size, so
// that the latency and CPU the machine and TLS cost by themselves are measured in the same run.
// Sends {port, ca} once listening; exits when the bench disconnects.
import { createServer } from "node:https";
import { testPki } from "../support/https.ts";

if (process.argv[1] === import.meta.filename) {
  const pki = await testPki();
  const answer = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "00000000-0000-4000-8000-000000000001", allowed: true, patchType: "JSONPatch", patch: "A".repeat(1328) } });
  const server = createServer({ cert: pki.serving.cert, key: pki.serving.key, keepAliveTimeout: 120_000 }, (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    process.send?.({ port: typeof address === "object" && address !== null ? address.port : 0, ca: pki.ca.cert });
  });
  process.once("disconnect", () => process.exit(0));
}
