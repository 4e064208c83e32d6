import { afterAll, describe, expect, it } from "vitest";
import { makeChildren } from "./children.ts";
import { expectLameduckRollout } from "./expect-rollout.ts";
import { runScenario, Strategy } from "./scenario.ts";

// A test-only profile: slice changes reach the proxy after 50-100 ms, so a rollout takes seconds.
const quick = { name: "test (50-100 ms)", minMs: 50, maxMs: 100 };
const children = makeChildren();

afterAll(() => {
  children.killAll();
});

describe("the local rollout simulation", () => {
  it("rolls 2 pods behind the proxy under load, stopping every process it started", async () => {
    const result = await runScenario(
      { strategy: Strategy.sleep5, profile: quick, replicas: 2, workerReplicas: 1, rps: 40, warmupMs: 500, tailMs: 500, seed: 1 },
      { children, progress: () => undefined },
    );
    expect(result.warnings).toEqual([]);
    expect(result.load.requests).toBeGreaterThan(100);
    // A 5 s sleep is far longer than a 100 ms propagation delay: nothing may fail.
    expect(result.load).toMatchObject({ failed: 0 });
    // Each old pod waited out its native sleep before SIGTERM; the rollout lasted at least that.
    expect(result.meanDeleteToSigtermMs).toBeGreaterThanOrEqual(5000);
    expect(result.rolloutMs).toBeGreaterThanOrEqual(5000);
    expect(result.worker?.pods).toBe(1);
    expect(children.size).toBe(0);
  }, 60_000);

  it("with lameduck, the webhook injects the hook, web pods wait for the drain and the worker is released at once", async () => {
    const result = await runScenario(
      { strategy: Strategy.lameduck, profile: quick, replicas: 2, workerReplicas: 1, rps: 40, warmupMs: 500, tailMs: 500, seed: 2 },
      { children, progress: () => undefined },
    );
    expectLameduckRollout(result);
    expect(children.size).toBe(0);
  }, 60_000);
});
