// Admission webhook throughput and latency over keep-alive HTTPS, against a no-op HTTPS responder
// with the same certificate, measured in the same run. Target: p99 <= 5 ms. The webhook logs its
// decisions at info level, as in production, with one synchronous write per line (what
// process.stdout does for a pipe or a file on Linux) to /dev/null. CPU per review is the whole
// process's, bench client included. A paced run at 200 reviews/s shows the cost at a rate clusters send.
import { Agent, createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { makeWebhookServer } from "../../injector/admission/server.ts";
import { pino } from "pino";
import { makeLogger } from "../../injector/log.ts";
import { makeTestReviewer } from "../support/admission.ts";
import { testPki } from "../support/https.ts";
import type { BenchReport } from "./report.ts";
import { postReview, review } from "./review.ts";

const clients = 4;
/** Alternating short rounds of both servers, so that load from other processes hits both alike. */
const rounds = 8;
const warmupMs = 200;
const jitWarmupMs = 2000;
const roundMs = 750;
const pacedEveryMs = 5;
const pacedCount = 400;
const uid = (JSON.parse(review.toString()) as { request: { uid: string } }).request.uid;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => { resolve((server.address() as AddressInfo).port); }));
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => { resolve(); });
    server.closeAllConnections();
  });
}

interface Round {
  readonly perSecond: number;
  readonly latencies: number[];
  /** Process CPU time per review, µs. */
  readonly cpuUs: number;
  /** This (the HTTPS and the bench client's) thread's CPU time per review, µs. */
  readonly threadCpuUs: number;
}

async function measure(port: number, ca: string, agent: Agent, warmup = warmupMs): Promise<Round> {
  const latencies: number[] = [];
  const measureFrom = performance.now() + warmup;
  const end = measureFrom + roundMs;
  let cpuFrom: NodeJS.CpuUsage | undefined;
  let threadCpuFrom: NodeJS.CpuUsage | undefined;
  const loop = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      if (t0 >= measureFrom) {
        cpuFrom ??= process.cpuUsage();
        threadCpuFrom ??= process.threadCpuUsage();
      }
      await postReview(port, ca, agent);
      if (t0 >= measureFrom) latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const cpu = process.cpuUsage(cpuFrom);
  const threadCpu = process.threadCpuUsage(threadCpuFrom);
  const n = latencies.length;
  return { perSecond: n / (roundMs / 1000), latencies, cpuUs: (cpu.user + cpu.system) / n, threadCpuUs: (threadCpu.user + threadCpu.system) / n };
}

/** Process CPU per review (µs) at a low, steady rate: one review every `everyMs`, `count` of them. */
async function paced(port: number, ca: string, agent: Agent, everyMs: number, count: number): Promise<number> {
  await postReview(port, ca, agent);
  const from = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    await postReview(port, ca, agent);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  const cpu = process.cpuUsage(from);
  return (cpu.user + cpu.system) / count;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function percentile(values: number[], q: number): number {
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? Number.NaN;
}

export async function run(report: BenchReport): Promise<void> {
  const pki = await testPki();
  const sink = pino.destination({ dest: "/dev/null", sync: true });
  const logger = makeLogger("info", sink);
  const { review, metrics } = makeTestReviewer(undefined, undefined, { logger });
  const webhook = makeWebhookServer({ tls: pki.serving, review, metrics, logger });
  const fixed = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid, allowed: true } });
  // The no-op responder reads the whole body too: only the review itself differs.
  const noop = createServer({ cert: pki.serving.cert, key: pki.serving.key, keepAliveTimeout: 120_000 }, (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(fixed) });
      res.end(fixed);
    });
  });
  // For scale: what reading the review at all costs (parse the body, answer allowed with its uid).
  const parseOnly = createServer({ cert: pki.serving.cert, key: pki.serving.key, keepAliveTimeout: 120_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request: { uid: string } };
      const answer = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: parsed.request.uid, allowed: true } });
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  const [webhookPort, noopPort, parsePort] = await Promise.all([listen(webhook), listen(noop), listen(parseOnly)]);
  try {
    const agents = [0, 1, 2].map(() => new Agent({ keepAlive: true, maxSockets: clients }));
    const [noopAgent, webhookAgent, parseAgent] = agents as [Agent, Agent, Agent];
    const noopRounds: Round[] = [];
    const webhookRounds: Round[] = [];
    const parseRounds: Round[] = [];
    // Let the JIT optimise every server's path before anything counts.
    for (const [port, agent] of [[noopPort, noopAgent], [webhookPort, webhookAgent], [parsePort, parseAgent]] as const) {
      await measure(port, pki.ca.cert, agent, jitWarmupMs);
    }
    const servers = [
      { port: noopPort, agent: noopAgent, results: noopRounds },
      { port: webhookPort, agent: webhookAgent, results: webhookRounds },
      { port: parsePort, agent: parseAgent, results: parseRounds },
    ];
    for (let i = 0; i < rounds; i++) {
      // Each round starts with another server: the garbage one leaves behind is collected during the
      // next one's round, which should not always be the same server's.
      for (let j = 0; j < servers.length; j++) {
        const server = servers[(i + j) % servers.length];
        if (server !== undefined) server.results.push(await measure(server.port, pki.ca.cert, server.agent));
      }
    }
    // At a rate a cluster sends (200 reviews/s).
    const pacedNoop = await paced(noopPort, pki.ca.cert, noopAgent, pacedEveryMs, pacedCount);
    const pacedWebhook = await paced(webhookPort, pki.ca.cert, webhookAgent, pacedEveryMs, pacedCount);
    for (const agent of agents) agent.destroy();
    const ratio = median(webhookRounds.map((w, i) => w.perSecond / (noopRounds[i]?.perSecond ?? Number.NaN)));
    const webhookLatencies = webhookRounds.flatMap((r) => r.latencies);
    const noopLatencies = noopRounds.flatMap((r) => r.latencies);
    report.section(`Admission webhook (keep-alive HTTPS, ${clients} concurrent clients, ${review.length}-byte Deployment pod review, median of ${rounds} alternating rounds)`);
    report.row("no-op HTTPS responder", median(noopRounds.map((r) => r.perSecond)), "reviews/s");
    report.row("webhook", median(webhookRounds.map((r) => r.perSecond)), "reviews/s", { ratio, baseline: "no-op" });
    const parseRatio = median(parseRounds.map((p, i) => p.perSecond / (noopRounds[i]?.perSecond ?? Number.NaN)));
    report.row("parse-only responder (for scale)", median(parseRounds.map((r) => r.perSecond)), "reviews/s", { ratio: parseRatio, baseline: "no-op" });
    report.row("webhook p50 latency", percentile(webhookLatencies, 0.5), "ms");
    report.row("webhook p99 latency", percentile(webhookLatencies, 0.99), "ms", { target: 5 });
    report.row("no-op p50 latency", percentile(noopLatencies, 0.5), "ms");
    report.row("no-op p99 latency", percentile(noopLatencies, 0.99), "ms");
    const noopCpu = median(noopRounds.map((r) => r.cpuUs));
    report.row("process CPU per review, no-op (bench client included)", noopCpu, "µs");
    report.row("process CPU per review, webhook", median(webhookRounds.map((r) => r.cpuUs)), "µs", { ratio: median(webhookRounds.map((r) => r.cpuUs)) / noopCpu, baseline: "no-op" });
    report.row(`process CPU per review at ${String(1000 / pacedEveryMs)} reviews/s, no-op`, pacedNoop, "µs");
    report.row(`process CPU per review at ${String(1000 / pacedEveryMs)} reviews/s, webhook`, pacedWebhook, "µs", { ratio: pacedWebhook / pacedNoop, baseline: "no-op" });
  } finally {
    await Promise.all([close(webhook), close(noop), close(parseOnly)]);
    sink.flushSync();
    sink.end();
  }
}
