// `npm run bench`: runs every test/bench/*.bench.ts module's `run(report)` in turn.
// (Minimal version; the hook branch owns the shared one.)
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { makeReport, type BenchReport } from "./report.ts";

const dir = import.meta.dirname;
const only = process.argv[2];
const report = makeReport();
for (const file of readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).sort()) {
  if (only !== undefined && !file.includes(only)) continue;
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { run?: (report: BenchReport) => Promise<void> };
  if (typeof mod.run !== "function") throw new Error(`${file} exports no run(report)`);
  await mod.run(report);
}
report.write(join(dir, "..", "..", "bench-results"));
