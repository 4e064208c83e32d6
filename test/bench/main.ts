// `npm run bench`: runs every test/bench/*.bench.ts module's `run(report)` in name order and writes
// bench-results/results.json. (Minimal version from the fakeapi branch; the hook branch owns the full one.)
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { makeReport } from "./report.ts";
import type { BenchReport } from "./report.ts";

const dir = import.meta.dirname;
const report = makeReport();
const only = process.argv.slice(2);
for (const file of readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).sort()) {
  if (only.length > 0 && !only.some((o) => file.includes(o))) continue;
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { run?: (r: BenchReport) => Promise<void> };
  if (typeof mod.run !== "function") throw new Error(`${file} does not export run(report)`);
  await mod.run(report);
}
process.stdout.write(`\nresults: ${report.write(join(dir, "..", "..", "bench-results"))}\n`);
