// The rollout simulation's long-lived-streams rows (issue 16): clients holding 2-8 s streams that
// reconnect when one ends, and an app that cuts open streams at SIGTERM, under no preStop, a fixed
// sleep 5, lameduck wait, and lameduck wait with the drain phase. Writes bench-results/sim-streams.json.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runMatrixHere, streamSpecs, writeJson } from "../sim/matrix.ts";
import { Strategy } from "../sim/scenario.ts";
import { formatStreamTable } from "../sim/streams-table.ts";
import type { BenchReport } from "./report.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

export async function run(report: BenchReport): Promise<void> {
  const results = await runMatrixHere("sim-streams", streamSpecs(2000));
  const table = formatStreamTable(results);
  process.stderr.write(`${table}\n`);
  await writeJson(join(root, "bench-results", "sim-streams.json"), { table: table.split("\n"), scenarios: results.map((r) => ({ ...r, buckets: undefined })) });
  for (const r of results) {
    report.section(`rollout simulation, long-lived streams: ${r.strategy}, ${r.profile}`);
    const cut = r.streams?.cut ?? Number.NaN;
    const cutOptions = r.strategy === Strategy.lameduckDrain ? { target: 0 } : r.strategy === Strategy.none ? { pass: cut > 0 } : {};
    report.row("streams cut by the app's SIGTERM", cut, "streams", cutOptions);
    report.row("streams that could not open", r.streams?.failedOpens ?? Number.NaN, "streams", r.strategy === Strategy.lameduckDrain ? { target: 0 } : {});
    report.row("streams opened", r.streams?.opened ?? Number.NaN, "streams");
    report.row("failed requests", r.load.failed, "requests", r.strategy === Strategy.lameduck || r.strategy === Strategy.lameduckDrain ? { target: 0 } : {});
    report.row("rollout time (first create to last old pod gone)", r.rolloutMs / 1000, "s");
    report.row("mean delete to SIGTERM, web pods", r.meanDeleteToSigtermMs / 1000, "s");
    const hook = r.hookLogs[0];
    if (hook !== undefined) process.stderr.write(`sim-streams: a hook said: ${hook}\n`);
  }
}
