// Graceful node shutdown in the rollout simulation (issue 16, test/sim/nodeshutdown.ts): node-a's
// kubelet (shutdownGracePeriod 30 s, critical pods 10 s) stops its 2 of 4 web pods at t = 10 s
// without an API DELETE, under none, a fixed sleep 5 and lameduck wait. Writes
// bench-results/sim-node-shutdown.json.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { killChildrenOnExit, makeChildren } from "../sim/children.ts";
import { makeWorkRoot, simTargetFrom, writeJson } from "../sim/matrix.ts";
import { formatNodeShutdownTable, runNodeShutdown, shutdownStrategies, type NodeShutdownResult } from "../sim/nodeshutdown.ts";
import { profiles } from "../sim/profile.ts";
import { Strategy } from "../sim/scenario.ts";
import type { BenchReport } from "./report.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

export async function run(report: BenchReport): Promise<void> {
  const children = makeChildren();
  const workRoot = makeWorkRoot();
  const removeHandlers = killChildrenOnExit(children, workRoot.remove);
  const results: NodeShutdownResult[] = [];
  try {
    const progress = (m: string): void => {
      process.stderr.write(`sim-node-shutdown: ${m}\n`);
    };
    for (const [i, strategy] of shutdownStrategies.entries()) {
      progress(`scenario ${String(i + 1)}/${String(shutdownStrategies.length)}: ${strategy}`);
      const spec = { strategy, profile: profiles.fast, rps: 100, shutdownAtMs: 10_000, shutdownGracePeriodSeconds: 30, shutdownGracePeriodCriticalPodsSeconds: 10, tailMs: 3000, seed: 3000 + i };
      const result = await runNodeShutdown(spec, { children, progress: (m) => { progress(`  ${m}`); }, workDir: join(workRoot.path, `scenario-${String(i + 1)}`), target: simTargetFrom(process.env) });
      for (const w of result.warnings) progress(`  warning: ${w}`);
      results.push(result);
    }
  } finally {
    children.killAll();
    workRoot.remove();
    removeHandlers();
  }
  const table = formatNodeShutdownTable(results);
  process.stderr.write(`${table}\n`);
  for (const r of results) for (const p of r.pods) if (p.hookLog !== undefined) process.stderr.write(`sim-node-shutdown: ${r.strategy}, ${p.pod}: ${p.hookLog}\n`);
  await writeJson(join(root, "bench-results", "sim-node-shutdown.json"), { table: table.split("\n"), scenarios: results });
  for (const r of results) {
    report.section(`graceful node shutdown: ${r.strategy}, ${r.profile}, override ${String(r.graceOverrideSeconds)} s`);
    const held = Math.max(...r.pods.map((p) => p.preStopMs));
    report.row("longest preStop on the shut-down node", held, "ms", r.strategy === Strategy.lameduck ? { target: 1000 } : {});
    report.row("longest shutdown to proxy stopped routing", Math.max(...r.pods.map((p) => p.unroutedAfterMs)), "ms");
    report.row("failed requests from the shutdown on", r.failedAfterShutdown, "requests");
    report.row("requests sent", r.load.requests, "requests");
    report.row("pods deleted through the API (must be none)", r.pods.filter((p) => p.phaseAfter !== "Failed").length, "pods", { target: 0 });
  }
}
