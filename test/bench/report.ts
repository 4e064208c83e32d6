// The benchmark report: sections of rows, printed as an aligned table and written to
// bench-results/results.json. A row with a target either meets it or makes `npm run bench` fail.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface RowOptions {
  /** This row's value divided by the baseline's, printed as "N× <baseline>". */
  readonly ratio?: number;
  /** What the ratio compares with, e.g. "hook". */
  readonly baseline?: string;
  /** A bound on the value: at most this (or at least, with higherIsBetter). */
  readonly target?: number;
  readonly higherIsBetter?: boolean;
  /** An explicit verdict, for checks that are not a bound on the value. */
  readonly pass?: boolean;
}

export interface Row extends RowOptions {
  readonly section: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly ok: boolean | undefined;
}

export interface BenchReport {
  section(title: string): void;
  row(name: string, value: number, unit: string, options?: RowOptions): void;
}

export interface FinishedReport {
  readonly rows: readonly Row[];
  readonly failed: readonly Row[];
  /** Modules that threw. */
  readonly errors: number;
}

export interface BenchReporter extends BenchReport {
  /** Records a benchmark module that threw: it fails the run. */
  error(module: string, error: unknown): void;
  finish(outDir: string): FinishedReport;
}

function verdict(value: number, options: RowOptions): boolean | undefined {
  if (options.pass !== undefined) return options.pass;
  if (options.target === undefined) return undefined;
  return options.higherIsBetter === true ? value >= options.target : value <= options.target;
}

function format(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function makeBenchReporter(print: (line: string) => void = console.log): BenchReporter {
  const rows: Row[] = [];
  const errors: { module: string; message: string }[] = [];
  let section = "";

  return {
    section(title) {
      section = title;
      print(`\n${title}`);
    },
    row(name, value, unit, options = {}) {
      const ok = verdict(value, options);
      const row: Row = { ...options, section, name, value, unit, ok };
      rows.push(row);
      const ratio = options.ratio === undefined ? "" : `${format(options.ratio)}× ${options.baseline ?? ""}`.trim();
      const target = options.target === undefined ? "" : `${options.higherIsBetter === true ? "≥" : "≤"} ${format(options.target)} ${unit}`;
      const mark = ok === undefined ? "" : ok ? "ok" : "MISSED";
      print(`  ${name.padEnd(52)} ${`${format(value)} ${unit}`.padStart(14)}  ${ratio.padEnd(18)} ${target.padEnd(16)} ${mark}`.trimEnd());
    },
    error(module, error) {
      const message = error instanceof Error ? error.stack ?? error.message : String(error);
      errors.push({ module, message });
      print(`\n${module}: FAILED\n${message}`);
    },
    finish(outDir) {
      const failed = rows.filter((row) => row.ok === false);
      mkdirSync(outDir, { recursive: true });
      writeFileSync(
        join(outDir, "results.json"),
        `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rows, errors, failed: failed.length + errors.length }, null, 2)}\n`,
      );
      return { rows, failed, errors: errors.length };
    },
  };
}
