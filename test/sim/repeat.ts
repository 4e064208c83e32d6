// `npm run demo:repeat -- --runs=N [--parallel=P] [--timeout=SECONDS] [--out=DIR]`: runs the demo
// (test/sim/demo.ts, all four scenarios) in N rounds, back to back, P demos at once in each round,
// and reports whether each returned by itself, how long it took and how many requests failed under
// lameduck. A run still going after the timeout is stopped (it, and the processes it started), so
// this script always returns. Each run's output, chart and figures go to DIR (default
// bench-results/demo-repeat/). Exit code 0 only when every run returned with exit code 0 and no
// request failed under lameduck.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { childrenOf, killProcesses } from "./proctree.ts";
import { Strategy } from "./scenario.ts";
import type { ScenarioFigures } from "./summary.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const demoPath = fileURLToPath(new URL("./demo.ts", import.meta.url));
const stopGraceMs = 5000;

export interface RepeatOptions {
  readonly runs: number;
  readonly parallel: number;
  readonly timeoutMs: number;
  readonly outDir: string;
}

function positive(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new Error(`demo:repeat: --${flag} must be a whole number from 1 to ${String(max)}, got "${text}"`);
  return n;
}

export function parseRepeatArgs(argv: readonly string[]): RepeatOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: "string", default: "1" },
      parallel: { type: "string", default: "1" },
      timeout: { type: "string", default: "300" },
      out: { type: "string", default: join(root, "bench-results", "demo-repeat") },
    },
  });
  return {
    runs: positive("runs", values.runs, 1000),
    parallel: positive("parallel", values.parallel, 8),
    timeoutMs: positive("timeout", values.timeout, 3600) * 1000,
    outDir: resolve(values.out),
  };
}

export type Outcome =
  | { readonly kind: "exited"; readonly code: number | null; readonly signal: string | null }
  | { readonly kind: "timed out" };

export interface RunRecord {
  readonly run: number;
  readonly round: number;
  readonly slot: number;
  readonly seconds: number;
  readonly outcome: Outcome;
  /** Its exit watchdog (watchdog.ts) had to stop it. */
  readonly watchdogFired: boolean;
  /** Each scenario's figures, when the run got as far as writing them. */
  readonly figures: readonly ScenarioFigures[] | undefined;
  /** The machine's 1-minute load average when the run ended: on a shared machine, the context. */
  readonly loadAverage: number;
}

export function returnedCleanly(r: RunRecord): boolean {
  return r.outcome.kind === "exited" && r.outcome.code === 0 && !r.watchdogFired && r.figures !== undefined;
}

const lameduckScenarios = (r: RunRecord): ScenarioFigures[] => (r.figures ?? []).filter((f) => f.strategy === Strategy.lameduck);
const lameduckFailed = (r: RunRecord): number[] => lameduckScenarios(r).map((f) => f.failed);

function lameduckFigures(f: ScenarioFigures): string {
  const kinds = Object.entries(f.failuresByKind).map(([kind, n]) => `${kind} ${String(n)}`);
  return `${String(f.failed)}${kinds.length === 0 ? "" : ` (${kinds.join(", ")})`} p99 ${f.p99LatencyMs.toFixed(0)} ms`;
}

function describe(r: RunRecord): string {
  if (r.outcome.kind === "timed out") return "TIMED OUT, stopped";
  if (r.watchdogFired) return "HUNG, its watchdog stopped it";
  if (r.outcome.code === 0) return r.figures === undefined ? "exit 0, no figures" : "returned";
  return r.outcome.signal === null ? `exit ${String(r.outcome.code)}` : `killed by ${r.outcome.signal}`;
}

export function formatRun(r: RunRecord): string {
  const lameduck = r.figures === undefined ? "-" : lameduckScenarios(r).map(lameduckFigures).join("; ");
  const all = r.figures === undefined ? "-" : r.figures.map((f) => String(f.failed)).join(", ");
  const where = `round ${String(r.round).padStart(2)} slot ${String(r.slot)}`;
  return `run ${String(r.run).padStart(3)}  ${where}  ${describe(r).padEnd(30)}  ${r.seconds.toFixed(1).padStart(6)} s  load ${r.loadAverage.toFixed(1).padStart(4)}  failed per scenario: ${all.padEnd(16)}  lameduck: ${lameduck}`;
}

export function summarizeRuns(records: readonly RunRecord[]): { readonly lines: string[]; readonly ok: boolean } {
  const clean = records.filter(returnedCleanly);
  const lameduck = records.flatMap(lameduckFailed);
  const failed = lameduck.reduce((a, b) => a + b, 0);
  const times = records.map((r) => r.seconds).sort((a, b) => a - b);
  const at = (q: number): string => (times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? Number.NaN).toFixed(1);
  const lines = [
    `${String(clean.length)} of ${String(records.length)} runs returned by themselves with exit code 0`,
    `${String(failed)} requests failed under lameduck, over ${String(lameduck.length)} lameduck scenarios`,
    `time per run: min ${at(0)} s, median ${at(0.5)} s, max ${at(1)} s`,
  ];
  return { lines, ok: records.length > 0 && clean.length === records.length && failed === 0 };
}

/** Stops a run: SIGTERM (the demo then stops its children), then SIGKILL for what is left. */
function stop(demo: ReturnType<typeof spawn>): void {
  if (demo.pid === undefined) return;
  // The demo is this process's child and not yet reaped: its pid still names it, and its children are its.
  const children = childrenOf(demo.pid, -1);
  demo.kill("SIGTERM");
  setTimeout(() => {
    if (demo.exitCode === null && demo.signalCode === null) demo.kill("SIGKILL");
    killProcesses(children);
  }, stopGraceMs).unref();
}

function readFigures(path: string): ScenarioFigures[] | undefined {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { scenarios: ScenarioFigures[] }).scenarios;
  } catch {
    // No file: the run never got as far as writing it.
    return undefined;
  }
}

async function runDemo(run: number, round: number, slot: number, options: RepeatOptions): Promise<RunRecord> {
  const [log, chart, json] = ["log", "svg", "json"].map((ext) => join(options.outDir, `run-${String(run)}.${ext}`)) as [string, string, string];
  rmSync(json, { force: true });
  const fd = openSync(log, "w");
  const started = performance.now();
  const demo = spawn(process.execPath, [demoPath, `--chart=${chart}`, `--json=${json}`], { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const state = { timedOut: false };
  const timer = setTimeout(() => {
    state.timedOut = true;
    stop(demo);
  }, options.timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((done) => {
    demo.once("exit", (c, s) => { done({ code: c, signal: s }); });
    demo.once("error", () => { done({ code: null, signal: null }); });
  });
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  const output = readFileSync(log, "utf8");
  return {
    run, round, slot, seconds,
    figures: readFigures(json),
    outcome: state.timedOut ? { kind: "timed out" } : { kind: "exited", code, signal },
    watchdogFired: output.includes("exit watchdog:"),
    loadAverage: loadavg()[0] ?? Number.NaN,
  };
}

async function main(options: RepeatOptions): Promise<number> {
  mkdirSync(options.outDir, { recursive: true });
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  say(`demo:repeat: ${String(options.runs)} round(s) of ${String(options.parallel)} demo(s) at once, each stopped after ${String(options.timeoutMs / 1000)} s; output in ${options.outDir}`);
  const records: RunRecord[] = [];
  for (let round = 1; round <= options.runs; round++) {
    const slots = Array.from({ length: options.parallel }, (_, i) => i + 1);
    const done = await Promise.all(slots.map((slot) => runDemo(records.length + slot, round, slot, options)));
    for (const r of done) say(formatRun(r));
    records.push(...done);
  }
  const { lines, ok } = summarizeRuns(records);
  say("");
  for (const line of lines) say(line);
  return ok ? 0 : 1;
}

if (import.meta.main) {
  process.exitCode = await main(parseRepeatArgs(process.argv.slice(2))).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  });
}
