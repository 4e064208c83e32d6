// How a set of scenario results is shown: a table a newcomer can read, the simulation's checks
// against the figures, and the chart panels (which carry the table, so the docs can show both from
// one run).
import type { ChartPanel } from "./chart.ts";
import type { LoadSummary } from "./load.ts";
import { Injection } from "./injection.ts";
import { Strategy, type ScenarioResult } from "./scenario.ts";

const seconds = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "-");
const millis = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? "-" : `${ms.toFixed(0)} ms`);

/** The figures of each scenario, one row per scenario: the demo's table, the docs' table and the chart's. */
export function tableOf(results: readonly ScenarioResult[]): { readonly header: readonly string[]; readonly rows: readonly (readonly string[])[] } {
  const header = ["strategy", "propagation", "requests", "failed", "p99 latency", "rollout", "proxy caught up", "delete→SIGTERM", "worker delete→SIGTERM"];
  const rows = results.map((r) => [
    r.strategy,
    r.profile,
    String(r.load.requests),
    String(r.load.failed),
    millis(r.load.p99LatencyMs),
    seconds(r.rolloutMs),
    `${seconds(r.meanProxyCatchUpMs)} (max ${seconds(r.maxProxyCatchUpMs)})`,
    seconds(r.meanDeleteToSigtermMs),
    r.worker ? `${millis(r.worker.meanDeleteToSigtermMs)} (max ${millis(r.worker.maxDeleteToSigtermMs)})` : "-",
  ]);
  return { header, rows };
}

export function formatTable(results: readonly ScenarioResult[]): string {
  const { header, rows } = tableOf(results);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** One scenario's figures as `demo.ts --json` writes them (repeat.ts reads them). */
export interface ScenarioFigures {
  readonly strategy: Strategy;
  readonly profile: string;
  readonly requests: number;
  readonly failed: number;
  readonly failuresByKind: LoadSummary["failuresByKind"];
  readonly p99LatencyMs: number;
}

export function figuresOf(results: readonly ScenarioResult[]): ScenarioFigures[] {
  return results.map((r) => ({
    strategy: r.strategy,
    profile: r.profile,
    requests: r.load.requests,
    failed: r.load.failed,
    failuresByKind: r.load.failuresByKind,
    p99LatencyMs: r.load.p99LatencyMs,
  }));
}

export interface TargetCheck {
  readonly target: string;
  readonly met: boolean;
  readonly figures: string;
}

function find(results: readonly ScenarioResult[], strategy: Strategy, profilePrefix: string): ScenarioResult | undefined {
  return results.find((r) => r.strategy === strategy && r.profile.startsWith(profilePrefix));
}

/** The simulation's checks that the given results allow (docs/simulation.md explains each line). */
export function checkTargets(results: readonly ScenarioResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const profile of ["fast", "medium", "slow"]) {
    const lameduck = find(results, Strategy.lameduck, profile);
    const none = find(results, Strategy.none, profile);
    if (lameduck) checks.push({ target: `lameduck wait: 0 failed requests (${profile})`, met: lameduck.load.failed === 0, figures: `${String(lameduck.load.failed)} failed` });
    if (none) checks.push({ target: `no preStop: some failed requests (${profile})`, met: none.load.failed > 0, figures: `${String(none.load.failed)} failed` });
  }
  for (const profile of ["medium", "slow"]) {
    const sleep5 = find(results, Strategy.sleep5, profile);
    if (sleep5) checks.push({ target: `sleep 5: some failed requests (${profile})`, met: sleep5.load.failed > 0, figures: `${String(sleep5.load.failed)} failed` });
  }
  const lameduckSlow = find(results, Strategy.lameduck, "slow");
  const sleep20Slow = find(results, Strategy.sleep20, "slow");
  if (lameduckSlow && sleep20Slow) {
    checks.push({
      target: "lameduck rollout no slower than sleep 20 (slow)",
      met: lameduckSlow.rolloutMs <= sleep20Slow.rolloutMs,
      figures: `${seconds(lameduckSlow.rolloutMs)} vs ${seconds(sleep20Slow.rolloutMs)}`,
    });
  }
  const lameduckFast = find(results, Strategy.lameduck, "fast");
  const sleep5Fast = find(results, Strategy.sleep5, "fast");
  if (lameduckFast && sleep5Fast) {
    checks.push({
      target: "lameduck rollout faster than sleep 5 (fast)",
      met: lameduckFast.rolloutMs < sleep5Fast.rolloutMs,
      figures: `${seconds(lameduckFast.rolloutMs)} vs ${seconds(sleep5Fast.rolloutMs)}`,
    });
  }
  const workers = results.filter((r) => r.strategy === Strategy.lameduck && r.worker);
  if (workers.length > 0) {
    const max = Math.max(...workers.map((r) => r.worker?.maxDeleteToSigtermMs ?? Infinity));
    checks.push({ target: "lameduck: worker pods get SIGTERM within 100 ms of deletion", met: max <= 100, figures: `max ${millis(max)}` });
  }
  const policy = results.filter((r) => r.injection === Injection.policy);
  if (policy.length > 0) {
    const reviews = policy.reduce((n, r) => n + (r.webhook?.end.reviews ?? Infinity), 0);
    const uninjected = policy.reduce((n, r) => n + r.uninjectedPods.length, 0);
    checks.push({
      target: "policy mode: every pod injected with no AdmissionReview (the API server injected them)",
      met: reviews === 0 && uninjected === 0,
      figures: `${String(reviews)} AdmissionReviews, ${String(uninjected)} pods without the marker`,
    });
  }
  return checks;
}

export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks.map((c) => `${c.met ? "met   " : "MISSED"}  ${c.target}: ${c.figures}`).join("\n");
}

export function chartPanels(results: readonly ScenarioResult[]): ChartPanel[] {
  const { header, rows } = tableOf(results);
  return results.map((r, i) => ({
    label: `${r.strategy}, ${r.profile}`,
    figures: Object.fromEntries(header.map((h, c) => [h, rows[i]?.[c] ?? ""])),
    bucketMs: r.bucketMs,
    buckets: r.buckets,
    rolloutFromMs: r.rolloutFromMs,
    rolloutToMs: r.rolloutToMs,
  }));
}
