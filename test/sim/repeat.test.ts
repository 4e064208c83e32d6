import { describe, expect, it } from "vitest";
import { formatRun, parseRepeatArgs, summarizeRuns, type RunRecord } from "./repeat.ts";
import { Strategy } from "./scenario.ts";
import type { ScenarioFigures } from "./summary.ts";

const figures = (lameduckFailed: number): ScenarioFigures[] => [
  { strategy: Strategy.none, profile: "fast", requests: 1000, failed: 90, failuresByKind: { refused: 90 }, p99LatencyMs: 400 },
  { strategy: Strategy.lameduck, profile: "fast", requests: 1500, failed: lameduckFailed, failuresByKind: lameduckFailed === 0 ? {} : { timeout: lameduckFailed }, p99LatencyMs: 120 },
  { strategy: Strategy.sleep5, profile: "medium", requests: 2500, failed: 200, failuresByKind: { reset: 200 }, p99LatencyMs: 300 },
  { strategy: Strategy.lameduck, profile: "medium", requests: 3000, failed: 0, failuresByKind: {}, p99LatencyMs: 80 },
];
const record = (run: number, over: Partial<RunRecord> = {}): RunRecord => ({
  run, round: run, slot: 1, seconds: 80 + run, outcome: { kind: "exited", code: 0, signal: null }, watchdogFired: false, figures: figures(0), loadAverage: 2.5, ...over,
});

describe("demo:repeat", () => {
  it("takes its counts as flags and names a bad one", () => {
    expect(parseRepeatArgs(["--runs=5", "--parallel=2", "--timeout=200", "--out=/tmp/x"])).toEqual({ runs: 5, parallel: 2, timeoutMs: 200_000, outDir: "/tmp/x" });
    expect(parseRepeatArgs([])).toMatchObject({ runs: 1, parallel: 1, timeoutMs: 300_000 });
    expect(() => parseRepeatArgs(["--runs=0"])).toThrow('--runs must be a whole number from 1 to 1000, got "0"');
    expect(() => parseRepeatArgs(["--parallel=two"])).toThrow(/--parallel must be a whole number/);
  });

  it("passes only when every run returned by itself with exit code 0 and nothing failed under lameduck", () => {
    expect(summarizeRuns([record(1), record(2)])).toEqual({
      ok: true,
      lines: [
        "2 of 2 runs returned by themselves with exit code 0",
        "0 requests failed under lameduck, over 4 lameduck scenarios",
        "time per run: min 81.0 s, median 82.0 s, max 82.0 s",
      ],
    });
    expect(summarizeRuns([record(1), record(2, { figures: figures(3) })]).ok).toBe(false);
    expect(summarizeRuns([record(1), record(2, { watchdogFired: true })]).ok).toBe(false);
    expect(summarizeRuns([record(1), record(2, { outcome: { kind: "timed out" }, figures: undefined })]).ok).toBe(false);
    expect(summarizeRuns([]).ok).toBe(false);
  });

  it("shows each run's result, time and failed requests", () => {
    expect(formatRun(record(3))).toMatch(/^run {3}3 {2}round {2}3 slot 1 {2}returned +83\.0 s {2}load {2}2\.5 {2}failed per scenario: 90, 0, 200, 0 +lameduck: 0 p99 120 ms; 0 p99 80 ms$/);
    expect(formatRun(record(6, { figures: figures(12) }))).toContain("lameduck: 12 (timeout 12) p99 120 ms; 0 p99 80 ms");
    expect(formatRun(record(4, { watchdogFired: true, outcome: { kind: "exited", code: null, signal: "SIGKILL" } }))).toContain("HUNG, its watchdog stopped it");
    expect(formatRun(record(5, { outcome: { kind: "timed out" }, figures: undefined }))).toContain("TIMED OUT, stopped");
  });
});
