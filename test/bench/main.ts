// `npm run bench`: runs every test/bench/*.bench.ts module's `run(report)` (the hook's first, then in
// name order), prints one table, writes bench-results/results.json, and exits 1 if any row misses its target or any
// module fails. `npm run bench -- webhook oracle` runs only the modules whose names contain one of
// the arguments.
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { makeBenchReporter, type BenchReport } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

function isBenchModule(value: unknown): value is { run: (report: BenchReport) => Promise<void> } {
  return typeof value === "object" && value !== null && "run" in value && typeof value.run === "function";
}

const report = makeBenchReporter();
const filters = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((name) => name.endsWith(".bench.ts"))
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  // The hook's start-to-exit times are spawned from this process, and spawning from a process whose
  // heap the fake API's 10,000 pods have grown cost ~13 ms instead of ~1.3 ms: measure it first.
  .sort((a, b) => Number(b === "hook.bench.ts") - Number(a === "hook.bench.ts") || a.localeCompare(b));
if (modules.length === 0) throw new Error(`no benchmark module matches ${filters.join(", ")}`);
for (const name of modules) {
  try {
    const module: unknown = await import(pathToFileURL(join(here, name)).href);
    if (!isBenchModule(module)) throw new Error(`${name} exports no run(report) function`);
    await module.run(report);
  } catch (error) {
    report.error(name, error);
  }
}
const outDir = join(root, "bench-results");
const { rows, failed, errors } = report.finish(outDir);
console.log(`\n${rows.length} measurements from ${modules.length} module(s), written to bench-results/results.json`);
if (failed.length > 0) console.log(`missed targets: ${failed.map((row) => `${row.section}: ${row.name}`).join("; ")}`);
process.exitCode = failed.length > 0 || errors > 0 || rows.length === 0 ? 1 : 0;
// Every module closes what it opened; should a stray handle remain, name it rather than hang.
setTimeout(() => {
  console.error(`bench: exiting although these are still open: ${process.getActiveResourcesInfo().join(", ")}`);
  process.exit();
}, 5000).unref();
