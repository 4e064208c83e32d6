// The benchmark report: sections of named rows printed as a table and written to
// bench-results/results.json. (Minimal version; the hook branch owns the shared one.)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface RowOptions {
  /** The figure relative to its baseline, e.g. 0.93 for 93%. */
  readonly ratio?: number;
  /** What the figure must reach, in words, e.g. "<= 5 ms". */
  readonly target?: string;
}

export interface BenchReport {
  section(title: string): void;
  row(name: string, value: number, unit: string, options?: RowOptions): void;
}

interface Row {
  section: string;
  name: string;
  value: number;
  unit: string;
  ratio?: number;
  target?: string;
}

export function makeReport(out: (line: string) => void = (l) => void process.stdout.write(`${l}\n`)): BenchReport & { rows: readonly Row[]; write(dir: string): void } {
  const rows: Row[] = [];
  let section = "";
  return {
    rows,
    section(title) {
      section = title;
      out(`\n## ${title}`);
    },
    row(name, value, unit, options = {}) {
      rows.push({ section, name, value, unit, ...options });
      const ratio = options.ratio === undefined ? "" : `  (${(options.ratio * 100).toFixed(0)}%)`;
      const target = options.target === undefined ? "" : `  target ${options.target}`;
      out(`  ${name.padEnd(44)} ${value.toFixed(value < 10 ? 2 : 0).padStart(10)} ${unit}${ratio}${target}`);
    },
    write(dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "results.json"), `${JSON.stringify(rows, null, 2)}\n`);
    },
  };
}
