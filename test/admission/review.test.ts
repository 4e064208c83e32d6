import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { maxReviewBytes, reviewBody } from "../../injector/admission/body.ts";
import { silentLogger } from "../../injector/log.ts";
import { maxContainers } from "../../injector/mutation/decide.ts";
import { applyOps, makeTestReviewer, patchOf, podReview, testFacts } from "../support/admission.ts";
import { captureLogger } from "../support/log.ts";

const realDir = join(import.meta.dirname, "..", "fixtures", "real");

function recorded(name: string): Record<string, unknown> & { request: Record<string, unknown> } {
  return JSON.parse(readFileSync(join(realDir, `admission-${name}.json`), "utf8")) as Record<string, unknown> & { request: Record<string, unknown> };
}

const pod = { apiVersion: "v1", kind: "Pod", metadata: { generateName: "web-5d-", labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "x" }] } };

describe("reviewing AdmissionReviews", () => {
  it("answers a dryRun create exactly like a real one", () => {
    const { review } = makeTestReviewer();
    const dry = recorded("dryrun");
    expect(dry.request["dryRun"]).toBe(true);
    const wet = { ...dry, request: { ...dry.request, dryRun: false } };
    expect(patchOf(review(dry))).toEqual(patchOf(review(wet)));
    expect(patchOf(review(dry)).length).toBeGreaterThan(0);
  });

  it("logs one line per decision naming the pod by generateName and the namespace", () => {
    const { logger, lines } = captureLogger("debug");
    const { review } = makeTestReviewer(testFacts(), undefined, { logger });
    review(podReview(pod, "shop"));
    review(podReview({ ...pod, metadata: { name: "legacy", annotations: { "lameduck.dev/inject": "false" } } }, "shop"));
    const logged = lines();
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ pod: "web-5d-*", namespace: "shop", result: "patched", mode: "wait" });
    expect(logged[1]).toMatchObject({ pod: "legacy", namespace: "shop", result: "skipped", reason: "pod-opt-out" });
  });

  it("admits pods unchanged, with a warning, until the caches are synced", () => {
    let ready = false;
    const { review } = makeTestReviewer(testFacts(), undefined, { isReady: () => ready });
    const before = review(podReview(pod, "shop"));
    expect(patchOf(before)).toEqual([]);
    expect(before.status === 200 && before.review.response.warnings).toEqual(["lameduck: not injected: the webhook's caches are not synced yet"]);
    ready = true;
    expect(patchOf(review(podReview(pod, "shop"))).length).toBeGreaterThan(0);
  });

  it("answers a review without a uid with 400, the only answer that cannot carry a uid", () => {
    const { review } = makeTestReviewer();
    const body = podReview(pod, "shop");
    expect(review({ ...body, request: { ...(body["request"] as object), uid: "" } }).status).toBe(400);
    expect(review({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }).status).toBe(400);
    expect(review([1, 2]).status).toBe(400);
    expect(review(null).status).toBe(400);
  });

  it("allows a review of another apiVersion with a warning and its uid", () => {
    const { review } = makeTestReviewer();
    const answer = review({ ...podReview(pod, "shop"), apiVersion: "admission.k8s.io/v1beta1" });
    expect(answer.status).toBe(200);
    if (answer.status !== 200) return;
    expect(answer.review.response).toMatchObject({ uid: "00000000-0000-4000-8000-000000000001", allowed: true });
    expect(answer.review.response.patch).toBeUndefined();
    expect(answer.review.response.warnings).toHaveLength(1);
  });

  it("allows an unreadable pod unchanged rather than failing it", () => {
    const { review } = makeTestReviewer();
    const answer = review(podReview({ ...pod, spec: { containers: "web" } }, "shop"));
    expect(answer.status).toBe(200);
    expect(patchOf(answer)).toEqual([]);
  });

  it("keeps warnings short, single-line and few", () => {
    const { review } = makeTestReviewer();
    const annotations: Record<string, string> = {};
    for (const key of ["mode", "max", "settle", "quiet", "sleep", "inject"]) annotations[`lameduck.dev/${key}`] = `bad\nvalue ${"y".repeat(200)}`;
    const answer = review(podReview({ ...pod, metadata: { name: "x", annotations } }, "shop"));
    if (answer.status !== 200) throw new Error("expected 200");
    const warnings = answer.review.response.warnings ?? [];
    expect(warnings.length).toBe(6);
    for (const w of warnings) {
      expect(w.length).toBeLessThan(120);
      expect(w).not.toMatch(/[\n\r]/);
    }
  });

  it("injects a container another webhook adds on reinvocation, reusing the volume", () => {
    // The recorded sequence: lameduck first, a sidecar injector adds a container, lameduck again.
    const { review } = makeTestReviewer(testFacts());
    const first = recorded("reinvocation-1-lameduck");
    const afterFirst = applyOps(first.request["object"], patchOf(review(first))) as { spec: { containers: Record<string, unknown>[] } };
    const sidecar = { name: "injected-sidecar", image: "example.invalid/sidecar:1" };
    const withSidecar = { ...afterFirst, spec: { ...afterFirst.spec, containers: [...afterFirst.spec.containers, sidecar] } };
    const third = recorded("reinvocation-3-lameduck-reinvoked");
    const ops = patchOf(review({ ...third, request: { ...third.request, object: withSidecar } }));
    expect(ops.map((o) => `${o.op} ${o.path}`).sort()).toEqual(["add /spec/containers/1/lifecycle", "add /spec/containers/1/volumeMounts"]);
    const final = applyOps(withSidecar, ops);
    expect(patchOf(review({ ...third, request: { ...third.request, object: final } }))).toEqual([]);
  });

  it("allows a pod with more containers than it patches unchanged, with a warning, logged and counted", async () => {
    const { logger, lines } = captureLogger();
    const { review, registry } = makeTestReviewer(testFacts(), undefined, { logger });
    const many = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, image: "x" }));
    const at = (spec: Record<string, unknown>) => review(podReview({ ...pod, spec }, "shop"));
    // The limit counts regular, init and ephemeral containers together.
    expect(patchOf(at({ containers: many(maxContainers - 1, "c"), initContainers: many(1, "i") })).length).toBeGreaterThan(0);
    const over = at({ containers: many(maxContainers, "c"), initContainers: many(1, "i") });
    expect(patchOf(over)).toEqual([]);
    expect(over.status === 200 && over.review.response.warnings).toEqual([`lameduck: not injected: the pod has ${maxContainers + 1} containers, more than the ${maxContainers} lameduck patches`]);
    expect(lines().at(-1)).toMatchObject({ result: "skipped", reason: "too-many-containers", msg: "not injected" });
    expect(await registry.getSingleMetricAsString("lameduck_admission_skips_total")).toContain('{reason="too-many-containers"} 1');
  });
});

describe("reading a review's body", () => {
  it("allows a body larger than it reviews unchanged, with its uid and a warning, logged and counted, without parsing it", async () => {
    const { logger, lines } = captureLogger();
    const { review, metrics, registry } = makeTestReviewer(testFacts(), undefined, { logger });
    const containers = Array.from({ length: 160_000 }, (_, i) => ({ name: `c${i}` }));
    const body = Buffer.from(JSON.stringify(podReview({ ...pod, spec: { containers } }, "shop")));
    expect(body.length).toBeGreaterThan(maxReviewBytes);
    let parsed = 0;
    const counting = (b: unknown) => {
      parsed++;
      return review(b);
    };
    const reply = reviewBody(body, counting, logger, metrics);
    expect(parsed).toBe(0);
    expect(reply.status).toBe(200);
    if (reply.status !== 200) return;
    expect(reply.review.response).toEqual({
      uid: "00000000-0000-4000-8000-000000000001",
      allowed: true,
      warnings: [`lameduck: not injected: the AdmissionReview is ${(body.length / 1_048_576).toFixed(1)} MiB, more than the 1.0 MiB lameduck reviews`],
    });
    expect(lines().at(-1)).toMatchObject({ result: "skipped", reason: "review-too-large", bytes: body.length, msg: "not injected" });
    expect(await registry.getSingleMetricAsString("lameduck_admission_skips_total")).toContain('{reason="review-too-large"} 1');
  });

  it("reviews a body up to the limit, and answers a large one without a uid, or one that is not JSON, with 400", () => {
    const { review, metrics } = makeTestReviewer();
    const padded = recorded("deployment-pod");
    const size = Buffer.byteLength(JSON.stringify(padded));
    padded.request["padding"] = "x".repeat(maxReviewBytes - size - 20);
    const atLimit = Buffer.from(JSON.stringify(padded));
    expect(atLimit.length).toBeLessThanOrEqual(maxReviewBytes);
    expect(patchOf(reviewBody(atLimit, review, silentLogger, metrics)).length).toBeGreaterThan(0);
    const noUid = Buffer.from(JSON.stringify({ request: { padding: "x".repeat(maxReviewBytes) } }));
    expect(reviewBody(noUid, review, silentLogger, metrics).status).toBe(400);
    expect(reviewBody(Buffer.from("{not json"), review, silentLogger, metrics).status).toBe(400);
  });
});
