// One webhook call as kube-apiserver makes it: POST the AdmissionReview as JSON over HTTPS to the
// URL with `?timeout=<n>s` appended, the server certificate verified against caBundle (system roots
// when empty) including its name, the whole call bounded by timeoutSeconds. Any failure here is a
// "failed calling webhook" error, the only kind failurePolicy: Ignore forgives.
import { request } from "node:https";
import type { Obj } from "./objects.ts";
import { isObj } from "./objects.ts";

export class CallError extends Error {}

const maxResponse = 8 * 1024 * 1024;

export function webhookUrl(base: string, timeoutSeconds: number): string {
  const u = new URL(base);
  u.searchParams.set("timeout", `${String(timeoutSeconds)}s`);
  return u.toString();
}

export function callWebhook(url: string, caBundle: string | undefined, timeoutSeconds: number, review: Obj): Promise<Obj> {
  const body = JSON.stringify(review);
  const ca = caBundle === undefined || caBundle === "" ? undefined : Buffer.from(caBundle, "base64").toString("utf8");
  return new Promise<Obj>((resolve, reject) => {
    const fail = (why: string): void => {
      reject(new CallError(`failed to call webhook: Post "${url}": ${why}`));
    };
    if (!url.startsWith("https://")) {
      fail("webhook URL must use the https scheme");
      return;
    }
    const req = request(url, {
      method: "POST",
      ...(ca === undefined ? {} : { ca }),
      headers: { "Content-Type": "application/json", Accept: "application/json, */*", "Content-Length": Buffer.byteLength(body) },
      timeout: timeoutSeconds * 1000,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > maxResponse) req.destroy(new Error("response body too large"));
        else chunks.push(c);
      });
      res.on("end", () => {
        clearTimeout(overall);
        if (res.statusCode !== 200) {
          fail(`the server responded with status ${String(res.statusCode)}`);
          return;
        }
        try {
          const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          if (!isObj(parsed)) throw new Error("not an object");
          resolve(parsed);
        } catch (e) {
          reject(new CallError(`failed to call webhook: the response could not be decoded: ${e instanceof Error ? e.message : String(e)}`));
        }
      });
      res.on("error", (e) => { fail(e.message); });
    });
    // The socket timeout only measures inactivity; the real client bounds the whole request.
    const overall = setTimeout(() => req.destroy(new Error("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")), timeoutSeconds * 1000);
    req.on("timeout", () => req.destroy(new Error("context deadline exceeded")));
    req.on("error", (e) => {
      clearTimeout(overall);
      fail(e.message);
    });
    req.end(body);
  });
}
