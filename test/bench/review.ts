// The AdmissionReview the webhook benches send (a recorded Deployment pod) and the requests they make.
import { readFileSync } from "node:fs";
import { type Agent, request } from "node:https";
import { join } from "node:path";

export const review = Buffer.from(JSON.stringify(JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "real", "admission-deployment-pod.json"), "utf8"))));

export interface Answer {
  readonly status: number;
  readonly body: string;
}

/** POSTs `body` (default: the recorded review) to /mutate and resolves with the answer. */
export function post(port: number, ca: string, agent: Agent | false, body: Buffer = review): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path: "/mutate", ca, agent, headers: { "Content-Type": "application/json", "Content-Length": body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }); });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** POSTs the recorded review; rejects unless answered 200. */
export async function postReview(port: number, ca: string, agent: Agent): Promise<void> {
  const answer = await post(port, ca, agent);
  if (answer.status !== 200) throw new Error(`status ${answer.status}`);
}

/** A review of a pod with `containers` containers named c0, c1, …, each `{name}` and nothing else. */
export function reviewWithContainers(containers: number, extra: (i: number) => Record<string, unknown> = () => ({})): Buffer {
  const recorded = JSON.parse(review.toString("utf8")) as { request: { object: { spec: Record<string, unknown> } } };
  recorded.request.object.spec["containers"] = Array.from({ length: containers }, (_, i) => ({ name: `c${i}`, ...extra(i) }));
  return Buffer.from(JSON.stringify(recorded));
}

export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
