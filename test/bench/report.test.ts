import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeBenchReporter } from "./report.ts";

describe("the benchmark report", () => {
  it("fails rows that miss their target, in either direction, and writes them all to results.json", () => {
    const lines: string[] = [];
    const report = makeBenchReporter((line) => lines.push(line));
    report.section("sizes");
    report.row("small enough", 20_000, "bytes", { target: 32_768 });
    report.row("too big", 40_000, "bytes", { target: 32_768 });
    report.row("fast enough", 900, "req/s", { target: 500, higherIsBetter: true });
    report.row("too slow", 100, "req/s", { target: 500, higherIsBetter: true });
    report.row("for comparison", 1800, "KiB", { ratio: 45, baseline: "hook" });
    report.row("explicit verdict", 1, "runs", { pass: false });
    const dir = mkdtempSync(join(tmpdir(), "lameduck-bench-report-"));
    try {
      const { rows, failed, errors } = report.finish(dir);
      expect(rows).toHaveLength(6);
      expect(failed.map((row) => row.name)).toEqual(["too big", "too slow", "explicit verdict"]);
      expect(errors).toBe(0);
      const written = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as { failed: number; rows: unknown[] };
      expect(written.failed).toBe(3);
      expect(written.rows).toHaveLength(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(lines.find((line) => line.includes("too big"))).toMatch(/40000 bytes .*≤ 32768 bytes\s+MISSED$/);
    expect(lines.find((line) => line.includes("for comparison"))).toMatch(/1800 KiB\s+45× hook$/);
  });

  it("counts a benchmark module that throws as a failure", () => {
    const report = makeBenchReporter(() => undefined);
    report.error("broken.bench.ts", new Error("no binary"));
    const dir = mkdtempSync(join(tmpdir(), "lameduck-bench-report-"));
    try {
      expect(report.finish(dir).errors).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
