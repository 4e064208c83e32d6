// The rollout simulation's full matrix (README, "The local demo"): no preStop, a fixed sleep 5, a
// fixed sleep 20 and lameduck wait, each under kube-proxy-like (0.5-3 s) and cloud-LB-like
// (10-20 s) propagation, with a worker Deployment rolled alongside. Writes docs/rollout.svg (the
// README's chart) and bench-results/sim.json; the done-when targets are rows with verdicts.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runMatrixHere, writeChart, writeJson } from "../sim/matrix.ts";
import { profiles } from "../sim/profile.ts";
import { Propagation } from "../sim/proxy.ts";
import { Strategy, type ScenarioResult, type ScenarioSpec } from "../sim/scenario.ts";
import { checkTargets, formatTable } from "../sim/summary.ts";
import type { BenchReport } from "./report.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const strategies = [Strategy.none, Strategy.sleep5, Strategy.sleep20, Strategy.lameduck] as const;

function specs(): ScenarioSpec[] {
  let seed = 1000;
  return [profiles.fast, profiles.slow].flatMap((profile) =>
    strategies.map((strategy) => ({ strategy, profile, propagation: Propagation.perEndpoint, replicas: 4, workerReplicas: 2, rps: 100, warmupMs: 2000, tailMs: 3000, seed: seed++ })),
  );
}

function rows(report: BenchReport, results: readonly ScenarioResult[]): void {
  for (const r of results) {
    report.section(`rollout simulation: ${r.strategy}, ${r.profile}, ${r.propagation}`);
    const failedOptions =
      r.strategy === Strategy.lameduck ? { target: 0 } : r.strategy === Strategy.none ? { pass: r.load.failed > 0 } : {};
    report.row("failed requests", r.load.failed, "requests", failedOptions);
    report.row("requests sent", r.load.requests, "requests");
    report.row("p99 latency", r.load.p99LatencyMs, "ms");
    report.row("rollout time (first create to last old pod gone)", r.rolloutMs / 1000, "s");
    report.row("mean delete to proxy caught up, web pods", r.meanProxyCatchUpMs / 1000, "s");
    report.row("mean delete to SIGTERM, web pods", r.meanDeleteToSigtermMs / 1000, "s");
    if (r.worker) {
      report.row("max delete to SIGTERM, worker pods", r.worker.maxDeleteToSigtermMs, "ms", r.strategy === Strategy.lameduck ? { target: 100 } : {});
    }
  }
  report.section("rollout simulation: done-when targets (issue 6)");
  for (const check of checkTargets(results)) report.row(`${check.target} (${check.figures})`, check.met ? 1 : 0, "met", { pass: check.met });
}

export async function run(report: BenchReport): Promise<void> {
  const results = await runMatrixHere("sim", specs());
  await writeChart(join(root, "docs", "rollout.svg"), "Rolling update under steady load: answered (grey) and failed (red) requests per 0.5 s", results);
  await writeJson(join(root, "bench-results", "sim.json"), {
    table: formatTable(results).split("\n"),
    targets: checkTargets(results),
    scenarios: results.map((r) => ({ ...r, buckets: undefined })),
  });
  rows(report, results);
}
