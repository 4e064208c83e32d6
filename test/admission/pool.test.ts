// Review threads (injector/admission/pool.ts, review-thread.ts): the same answers as inline review,
// byte for byte; the facts the thread reviews with follow the feed; counters reach the registry; and
// a thread that exits or hangs costs no review its answer.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Counter, Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { inlineDispatch, type Dispatch, type Reply } from "../../injector/admission/answer.ts";
import { makeAdmissionMetrics } from "../../injector/admission/metrics.ts";
import { startReviewPool, type ReviewPool, type ReviewPoolDeps } from "../../injector/admission/pool.ts";
import { makeReviewer } from "../../injector/admission/review.ts";
import { slotBytes } from "../../injector/admission/thread-protocol.ts";
import { silentLogger } from "../../injector/log.ts";
import type { V1ConfigMap, V1Namespace, V1Node, V1Service } from "@kubernetes/client-node";
import { makeFactsFeed } from "../../injector/admission/facts-feed.ts";
import type { ClusterFacts } from "../../injector/facts.ts";
import { makeClusterFacts } from "../../injector/informers/facts.ts";
import { hookConfigMapName } from "../../injector/names.ts";
import { podReview, silentThreadLog, testFacts, testFeed, testPolicy } from "../support/admission.ts";
import { manualInformer } from "../support/informer.ts";
import { captureLogger } from "../support/log.ts";

const realDir = join(import.meta.dirname, "..", "fixtures", "real");
const recorded = readdirSync(realDir)
  .filter((f) => f.startsWith("admission-") && f.endsWith(".json") && f !== "admission-index.json")
  .map((f) => ({ name: f, body: Buffer.from(JSON.stringify(JSON.parse(readFileSync(join(realDir, f), "utf8")))) }));

const pools: ReviewPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function setup(overrides: Partial<ReviewPoolDeps> = {}, facts: ClusterFacts = testFacts()) {
  const policy = testPolicy();
  const registry = new Registry();
  const metrics = makeAdmissionMetrics(registry);
  const inlineRegistry = new Registry();
  const inlineMetrics = makeAdmissionMetrics(inlineRegistry);
  const reviewer = makeReviewer({ facts, policy, logger: silentLogger, metrics, isReady: () => true });
  let inlineCalls = 0;
  const inner = inlineDispatch(reviewer, silentLogger, metrics);
  const inline: Dispatch = (body, reply) => { inlineCalls++; inner(body, reply); };
  // The reference: what reviewing on the HTTPS thread answers.
  const reference = inlineDispatch(makeReviewer({ facts, policy, logger: silentLogger, metrics: inlineMetrics, isReady: () => true }), silentLogger, inlineMetrics);
  const { feed, namespaces } = testFeed(facts);
  const restarts = new Counter({ name: "restarts", help: "-", registers: [registry] });
  const inlined = new Counter({ name: "inlined", help: "-", labelNames: ["reason"], registers: [registry] });
  const pool = startReviewPool({
    threads: 1, policy, log: silentThreadLog, feed, isReady: () => true, counters: metrics, restarts, inlined, inline, logger: silentLogger, tallyMs: 20,
    ...overrides,
  });
  pools.push(pool);
  /** Reviews answered inline, by reason; every inline review has one. */
  const inlinedBy = async (): Promise<Record<string, number>> => {
    const byReason = Object.fromEntries((await inlined.get()).values.map((v) => [String(v.labels["reason"]), v.value]));
    expect(Object.values(byReason).reduce((a, b) => a + b, 0)).toBe(inlineCalls);
    return byReason;
  };
  return { pool, registry, metrics, namespaces, restarts, reference, inlinedBy };
}

function send(dispatch: Dispatch, body: Buffer): Promise<Reply> {
  return new Promise((resolve) => { dispatch(body, resolve); });
}

function text(reply: Reply): string {
  return reply.status === 200 ? reply.json : reply.text;
}

async function counted(registry: Registry, name: string, labels: Record<string, string>, want: number): Promise<void> {
  const until = Date.now() + 5_000;
  for (;;) {
    const metric = (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    if ((metric?.value ?? 0) >= want || Date.now() > until) { expect(metric?.value ?? 0).toBe(want); return; }
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("review threads", () => {
  it("answer every recorded review exactly as inline review does", async () => {
    const { pool, reference, inlinedBy } = setup();
    for (const { name, body } of recorded) {
      const [threaded, inline] = await Promise.all([send(pool.dispatch, body), send(reference, body)]);
      expect({ name, status: threaded.status, text: text(threaded) }).toEqual({ name, status: inline.status, text: text(inline) });
    }
    // Malformed bodies too: not JSON (400), no uid (400), wrong kind (allowed with a warning).
    for (const body of ["{", "{}", JSON.stringify({ apiVersion: "v1", kind: "Pod", request: { uid: "x" } })]) {
      const [threaded, inline] = await Promise.all([send(pool.dispatch, Buffer.from(body)), send(reference, Buffer.from(body))]);
      expect(text(threaded)).toBe(text(inline));
      expect(threaded.status).toBe(inline.status);
    }
    expect(await inlinedBy()).toEqual({});
  });

  it("review many at once, more than a thread has slots, and answer each its own", async () => {
    const { pool, reference, inlinedBy } = setup();
    const bodies = Array.from({ length: 100 }, (_, i) => {
      const review = JSON.parse(recorded.find((r) => r.name === "admission-deployment-pod.json")?.body.toString() ?? "{}") as { request: { uid: string } };
      review.request.uid = `uid-${String(i)}`;
      return Buffer.from(JSON.stringify(review));
    });
    const answers = await Promise.all(bodies.map((b) => send(pool.dispatch, b)));
    const expected = await Promise.all(bodies.map((b) => send(reference, b)));
    expect(answers.map(text)).toEqual(expected.map(text));
    // 32 slots: the rest went inline.
    expect(await inlinedBy()).toEqual({ busy: 100 - 32 });
  });

  it("review inline a body larger than a slot", async () => {
    const { pool, reference, inlinedBy } = setup();
    const pod = { metadata: { name: "big", namespace: "shop", annotations: { big: "x".repeat(slotBytes) } }, spec: { containers: [{ name: "app", image: "nginx" }] } };
    const body = Buffer.from(JSON.stringify(podReview(pod, "shop")));
    expect(text(await send(pool.dispatch, body))).toBe(text(await send(reference, body)));
    expect(await inlinedBy()).toEqual({ large: 1 });
  });

  it("count in the HTTPS thread's registry what the thread reviewed", async () => {
    const { pool, registry } = setup();
    const deployment = recorded.find((r) => r.name === "admission-deployment-pod.json")?.body ?? Buffer.alloc(0);
    for (let i = 0; i < 3; i++) await send(pool.dispatch, deployment);
    await send(pool.dispatch, Buffer.from("{"));
    await counted(registry, "lameduck_admission_reviews_total", { result: "patched" }, 3);
    await counted(registry, "lameduck_injections_total", { mode: "wait" }, 3);
    await counted(registry, "lameduck_admission_reviews_total", { result: "bad-request" }, 1);
  });

  it("review with the facts the feed last sent, as the informers change", async () => {
    const namespaces = manualInformer<V1Namespace>([{ metadata: { name: "shop" } }]);
    const nodes = manualInformer<V1Node>([{ metadata: { name: "n1", labels: { "kubernetes.io/arch": "amd64" } } }]);
    const configMaps = manualInformer<V1ConfigMap>();
    const hash = "3f2a9c1e";
    const facts = makeClusterFacts({
      namespaces, nodes, services: manualInformer<V1Service>(),
      hooks: { hash, currentIn: (ns) => (configMaps.get(hookConfigMapName(hash), ns) === undefined ? undefined : { name: hookConfigMapName(hash), hash }) },
      oracleAddress: "10.96.40.7:8080", oracleService: "lameduck-oracle", namespace: "lameduck-system",
      serverVersion: () => ({ major: "1", minor: "36" }),
    });
    const { pool, reference } = setup({ feed: makeFactsFeed({ facts, namespaces, configMaps }) }, facts);
    const pod = { metadata: { generateName: "web-", namespace: "shop" }, spec: { containers: [{ name: "app", image: "nginx" }] } };
    const body = Buffer.from(JSON.stringify(podReview(pod, "shop")));
    const both = async (): Promise<string> => {
      const [threaded, inline] = await Promise.all([send(pool.dispatch, body), send(reference, body)]);
      expect(text(threaded)).toBe(text(inline));
      return text(threaded);
    };
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    const answers = [await both()];
    // The namespace's hook ConfigMap arrives: the hook instead of the native sleep.
    configMaps.put({ metadata: { name: hookConfigMapName(hash), namespace: "shop" } });
    await tick();
    answers.push(await both());
    // An arm64 node joins: the pod names no architecture, so the hook can no longer be chosen.
    nodes.put({ metadata: { name: "n2", labels: { "kubernetes.io/arch": "arm64" } } });
    answers.push(await both());
    // The namespace opts out.
    namespaces.put({ metadata: { name: "shop", labels: { "lameduck.dev/inject": "false" } } });
    await tick();
    answers.push(await both());
    expect(new Set(answers).size).toBe(answers.length);
    expect(answers[3]).not.toContain("\"patch\"");
  });

  it("answer inline what a thread held when it exits, and restart it", async () => {
    const { logger, messages } = captureLogger();
    const { pool, reference, restarts, inlinedBy } = setup({ logger, threadUrl: new URL("./threads/exit-thread.ts", import.meta.url), restartBackoffMs: { baseMs: 20, maxMs: 20 } });
    const body = recorded.find((r) => r.name === "admission-deployment-pod.json")?.body ?? Buffer.alloc(0);
    expect(text(await send(pool.dispatch, body))).toBe(text(await send(reference, body)));
    expect(await inlinedBy()).toEqual({ "taken-back": 1 });
    const until = Date.now() + 5_000;
    while ((await restarts.get()).values[0]?.value !== 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect((await restarts.get()).values[0]?.value).toBe(1);
    expect(messages()).toContain("review thread exited; reviewing inline until it is back");
  });

  it("stop a thread that holds a review past the deadline and answer the review inline", async () => {
    const { pool, reference, restarts, inlinedBy } = setup({ threadUrl: new URL("./threads/hang-thread.ts", import.meta.url), answerDeadlineMs: 200, restartBackoffMs: { baseMs: 10_000, maxMs: 10_000 } });
    const body = recorded.find((r) => r.name === "admission-deployment-pod.json")?.body ?? Buffer.alloc(0);
    const started = performance.now();
    expect(text(await send(pool.dispatch, body))).toBe(text(await send(reference, body)));
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(200);
    expect(took).toBeLessThan(2_000);
    expect((await restarts.get()).values[0]?.value).toBe(1);
    // While the thread is down, reviews are answered inline at once.
    const again = performance.now();
    await send(pool.dispatch, body);
    expect(performance.now() - again).toBeLessThan(200);
    expect(await inlinedBy()).toEqual({ "taken-back": 1, "no-thread": 1 });
  });

  it("answer the reviews in flight when closed", async () => {
    const { logger, messages } = captureLogger();
    const { pool, reference, inlinedBy } = setup({ logger });
    const body = recorded.find((r) => r.name === "admission-deployment-pod.json")?.body ?? Buffer.alloc(0);
    const inFlight = Array.from({ length: 10 }, () => send(pool.dispatch, body));
    await pool.close();
    const want = text(await send(reference, body));
    for (const reply of await Promise.all(inFlight)) expect(text(reply)).toBe(want);
    // The thread answered them before it stopped; what comes after closing is reviewed inline.
    expect(await inlinedBy()).toEqual({});
    expect(text(await send(pool.dispatch, body))).toBe(want);
    expect(await inlinedBy()).toEqual({ "no-thread": 1 });
    // A thread stopped on purpose is not an error.
    expect(messages()).toEqual([]);
  });
});
