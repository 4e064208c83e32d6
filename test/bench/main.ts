// `npm run bench`: runs every test/bench/*.bench.ts module's `run(report)` (the hook's first, then in
// name order), prints one table, writes bench-results/results.json, and exits 1 if any row misses its
// target or any module fails. `npm run bench -- webhook oracle` runs only the modules named
// (webhook.bench.ts and oracle.bench.ts; not webhook-gc.bench.ts, which is `webhook-gc`). Each module runs in a process of its own: a module measured after
// another one that grew the heap (the fake API's 10,000 pods, the simulation) measured the garbage
// collector of that heap too — spawning the hook took ~13 ms instead of ~1.3 ms, and the webhook's
// bench client cost half as much again per review.
import { fork } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { makeBenchReporter, type BenchReport, type RowOptions } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const childFlag = "--module=";

/** What a module's process tells the main one. */
type ModuleMessage =
  | { readonly kind: "section"; readonly title: string }
  | { readonly kind: "row"; readonly name: string; readonly value: number; readonly unit: string; readonly options: RowOptions }
  | { readonly kind: "error"; readonly message: string };

function isBenchModule(value: unknown): value is { run: (report: BenchReport) => Promise<void> } {
  return typeof value === "object" && value !== null && "run" in value && typeof value.run === "function";
}

/** Every module closes what it opened; should a stray handle remain, name it rather than hang. */
function exitSoon(): void {
  setTimeout(() => {
    console.error(`bench: exiting although these are still open: ${process.getActiveResourcesInfo().join(", ")}`);
    process.exit();
  }, 5000).unref();
}

/** In a module's own process: run it and send what it reports. */
async function runModule(name: string): Promise<void> {
  const send = (message: ModuleMessage): Promise<void> =>
    new Promise((resolve, reject) => { process.send?.(message, undefined, undefined, (err) => { if (err === null) resolve(); else reject(err); }); });
  const pending: Promise<void>[] = [];
  const report: BenchReport = {
    section(title) { pending.push(send({ kind: "section", title })); },
    row(rowName, value, unit, options = {}) { pending.push(send({ kind: "row", name: rowName, value, unit, options })); },
  };
  try {
    const module: unknown = await import(pathToFileURL(join(here, name)).href);
    if (!isBenchModule(module)) throw new Error(`${name} exports no run(report) function`);
    await module.run(report);
  } catch (error) {
    pending.push(send({ kind: "error", message: error instanceof Error ? error.stack ?? error.message : String(error) }));
  }
  await Promise.all(pending);
  process.disconnect();
  exitSoon();
}

async function main(): Promise<void> {
  const report = makeBenchReporter();
  const filters = process.argv.slice(2);
  const suffix = ".bench.ts";
  const all = readdirSync(here).filter((name) => name.endsWith(suffix));
  const unknown = filters.filter((f) => !all.includes(`${f}${suffix}`));
  if (unknown.length > 0) {
    throw new Error(`no benchmark module named ${unknown.join(", ")}; there are ${all.map((name) => name.slice(0, -suffix.length)).join(", ")}`);
  }
  const modules = all
    .filter((name) => filters.length === 0 || filters.includes(name.slice(0, -suffix.length)))
    .sort((a, b) => Number(b === "hook.bench.ts") - Number(a === "hook.bench.ts") || a.localeCompare(b));
  for (const name of modules) {
    const child = fork(fileURLToPath(import.meta.url), [`${childFlag}${name}`], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const messages: ModuleMessage[] = [];
    child.on("message", (message: ModuleMessage) => {
      messages.push(message);
      if (message.kind === "section") report.section(message.title);
      else if (message.kind === "row") report.row(message.name, message.value, message.unit, message.options);
      else report.error(name, message.message);
    });
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    if (code !== 0 && !messages.some((m) => m.kind === "error")) report.error(name, `its process ended with ${signal ?? `exit code ${String(code)}`}`);
  }
  const outDir = join(root, "bench-results");
  const { rows, failed, errors } = report.finish(outDir);
  console.log(`\n${rows.length} measurements from ${modules.length} module(s), written to bench-results/results.json`);
  if (failed.length > 0) console.log(`missed targets: ${failed.map((row) => `${row.section}: ${row.name}`).join("; ")}`);
  process.exitCode = failed.length > 0 || errors > 0 || rows.length === 0 ? 1 : 0;
  exitSoon();
}

const child = process.argv.find((arg) => arg.startsWith(childFlag));
await (child === undefined ? main() : runModule(child.slice(childFlag.length)));
