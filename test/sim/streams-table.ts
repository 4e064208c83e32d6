// The long-lived-streams rows of the matrix as a table: how many streams each strategy let the app
// cut, beside what it cost in rollout time.
import type { ScenarioResult } from "./scenario.ts";

const seconds = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "-");

export function formatStreamTable(results: readonly ScenarioResult[]): string {
  const header = ["strategy", "propagation", "streams", "cut", "failed to open", "requests failed", "rollout", "delete→SIGTERM"];
  const rows = results.flatMap((r) =>
    r.streams === undefined
      ? []
      : [[r.strategy, r.profile, String(r.streams.opened), String(r.streams.cut), String(r.streams.failedOpens), `${String(r.load.failed)} of ${String(r.load.requests)}`, seconds(r.rolloutMs), seconds(r.meanDeleteToSigtermMs)]],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
