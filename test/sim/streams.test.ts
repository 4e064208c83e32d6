import { afterAll, describe, expect, it } from "vitest";
import { makeChildren } from "./children.ts";
import { runScenario, Strategy, type ScenarioSpec } from "./scenario.ts";

// A test-only profile: slice changes reach the proxy after 50-100 ms, so a rollout takes seconds.
const quick = { name: "test (50-100 ms)", minMs: 50, maxMs: 100 };
const children = makeChildren();

afterAll(() => {
  children.killAll();
});

// Requests on fresh connections only: a keep-alive pool that never closes its connections would hold
// the drain phase until --max (docs/operations.md).
const base = { profile: quick, replicas: 2, workerReplicas: 1, rps: 20, keepAliveShare: 0, warmupMs: 1500, tailMs: 500, streams: { clients: 6, minMs: 500, maxMs: 1500 } } as const;
const spec = (strategy: Strategy, seed: number): ScenarioSpec => ({ ...base, strategy, seed });

describe("long-lived streams in the rollout simulation", () => {
  it("without a preStop, the app's SIGTERM cuts the streams open on the old pods", async () => {
    const result = await runScenario(spec(Strategy.none, 11), { children, progress: () => undefined });
    expect(result.warnings).toEqual([]);
    expect(result.streams?.clients).toBe(6);
    expect(result.streams?.completed).toBeGreaterThan(0);
    expect(result.streams?.cut).toBeGreaterThan(0);
    expect(children.size).toBe(0);
  }, 60_000);

  it("with lameduck's drain phase, no stream is cut: each old pod waits until its streams have ended", async () => {
    const result = await runScenario(spec(Strategy.lameduckDrain, 12), { children, progress: () => undefined });
    expect(result.warnings).toEqual([]);
    expect(result.controllerErrors).toEqual([]);
    expect(result.streams?.completed).toBeGreaterThan(0);
    expect(result.streams).toMatchObject({ cut: 0, failedOpens: 0 });
    expect(result.load).toMatchObject({ failed: 0 });
    const web = result.hookLogs.filter((l) => l.startsWith("web-v1-"));
    expect(web).toHaveLength(2);
    for (const line of web) expect(line).toMatch(/lameduck: drained after .* drain phase \d+\.\d\ds, 0 connections open, released/);
    expect(children.size).toBe(0);
  }, 60_000);
});
