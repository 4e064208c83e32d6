// The benchmark report shared by every test/bench/*.bench.ts module: sections of rows, printed as
// they come and written to bench-results/results.json at the end. (Minimal version from the fakeapi
// branch; the hook branch owns the full one.)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface RowOptions {
  /** A comparison figure, e.g. lameduck vs. fixed sleep. */
  readonly ratio?: number;
  /** The goal, in the row's unit; the row is marked when it misses it (lower is better). */
  readonly target?: number;
}

export interface BenchRow {
  readonly section: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly ratio?: number;
  readonly target?: number;
}

export interface BenchReport {
  section(title: string): void;
  row(name: string, value: number, unit: string, options?: RowOptions): void;
}

export interface WritableReport extends BenchReport {
  readonly rows: readonly BenchRow[];
  write(dir: string): string;
}

export function makeReport(print: (line: string) => void = (l) => { process.stdout.write(`${l}\n`); }): WritableReport {
  const rows: BenchRow[] = [];
  let current = "";
  return {
    rows,
    section(title) {
      current = title;
      print(`\n## ${title}`);
    },
    row(name, value, unit, options = {}) {
      rows.push({ section: current, name, value, unit, ...options });
      const target = options.target === undefined ? "" : ` (target < ${String(options.target)} ${unit}${value <= options.target ? "" : ", MISSED"})`;
      const ratio = options.ratio === undefined ? "" : ` ratio ${options.ratio.toFixed(2)}`;
      print(`${name.padEnd(48)} ${value.toFixed(unit === "ms" ? 0 : 2).padStart(10)} ${unit}${target}${ratio}`);
    },
    write(dir) {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, "results.json");
      writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);
      return file;
    },
  };
}
