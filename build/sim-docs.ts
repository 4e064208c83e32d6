// Copies the simulation matrix's table from docs/rollout.svg (which the bench's run wrote, figures
// included) into docs/simulation.md, between its matrix markers: the chart and the table then come
// from one run, whatever rows the matrix has. test/ops/docs.test.ts fails when they disagree.
//
//   node build/sim-docs.ts            after `npm run bench -- sim`
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chartFigures } from "../test/sim/chart.ts";

const begin = /<!-- matrix:begin[^>]*-->\n/;
const end = "<!-- matrix:end -->";

export function markdownTable(rows: readonly Readonly<Record<string, string>>[]): string {
  const header = Object.keys(rows[0] ?? {});
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map((r) => line(header.map((h) => r[h] ?? "")))].join("\n");
}

/** The table between the markers of `markdown`, or undefined. */
export function documentedTable(markdown: string): string | undefined {
  const start = begin.exec(markdown);
  const stop = markdown.indexOf(end);
  if (start === null || stop === -1) return undefined;
  return markdown.slice(start.index + start[0].length, stop).trim();
}

export function withTable(markdown: string, table: string): string {
  const start = begin.exec(markdown);
  const stop = markdown.indexOf(end);
  if (start === null || stop === -1) throw new Error(`no ${end} markers`);
  return `${markdown.slice(0, start.index + start[0].length)}${table}\n${markdown.slice(stop)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const docs = join(dirname(fileURLToPath(import.meta.url)), "..", "docs");
  const figures = chartFigures(readFileSync(join(docs, "rollout.svg"), "utf8"));
  if (figures === undefined) throw new Error("docs/rollout.svg carries no figures: run `npm run bench -- sim` first");
  const path = join(docs, "simulation.md");
  writeFileSync(path, withTable(readFileSync(path, "utf8"), markdownTable(figures)));
  console.log(`sim-docs: ${String(figures.length)} rows from docs/rollout.svg into docs/simulation.md`);
}
