// The AdmissionReview the webhook benches send: a recorded Deployment pod, over keep-alive HTTPS.
import { readFileSync } from "node:fs";
import { type Agent, request } from "node:https";
import { join } from "node:path";

export const review = Buffer.from(JSON.stringify(JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "real", "admission-deployment-pod.json"), "utf8"))));

/** POSTs the review to /mutate; rejects unless answered 200. */
export function postReview(port: number, ca: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path: "/mutate", ca, agent, headers: { "Content-Type": "application/json", "Content-Length": review.length } },
      (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) resolve();
          else reject(new Error(`status ${res.statusCode ?? 0}`));
        });
      },
    );
    req.on("error", reject);
    req.end(review);
  });
}
