import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeChildren } from "./children.ts";
import { runNodeShutdown, type ShutdownStrategy } from "./nodeshutdown.ts";
import { Strategy } from "./scenario.ts";

// A test-only profile: slice changes reach the proxy after 50-100 ms.
const quick = { name: "test (50-100 ms)", minMs: 50, maxMs: 100 };
const children = makeChildren();
const workRoot = mkdtempSync(join(tmpdir(), "lameduck-nodeshutdown-test-"));

afterAll(() => {
  children.killAll();
  rmSync(workRoot, { recursive: true, force: true });
});

const run = (strategy: ShutdownStrategy, seed: number) =>
  runNodeShutdown(
    { strategy, profile: quick, rps: 20, shutdownAtMs: 1000, shutdownGracePeriodSeconds: 30, shutdownGracePeriodCriticalPodsSeconds: 10, tailMs: 300, seed },
    { children, progress: () => undefined, workDir: join(workRoot, String(seed)) },
  );

describe("graceful node shutdown in the simulation", () => {
  it("with lameduck, the oracle lets each hook go at once (not deleted) and the pods stay, reported Failed", async () => {
    const result = await run(Strategy.lameduck, 21);
    expect(result.warnings).toEqual([]);
    expect(result.controllerErrors).toEqual([]);
    expect(result.graceOverrideSeconds).toBe(20);
    expect(result.pods).toHaveLength(2);
    for (const pod of result.pods) {
      expect(pod.hookLog).toMatch(/^lameduck: unselected reason=not-deleted, released at \d\.\d\ds of max 30s$/);
      // Far below the hook's 10 s fallback and the 20 s override: the oracle answered at once.
      expect(pod.preStopMs).toBeLessThan(2000);
      expect(pod.phaseAfter).toBe("Failed");
      // The endpoint goes only with the Failed status: the kubelet writes nothing earlier.
      expect(pod.unroutedAfterMs).toBeGreaterThanOrEqual(pod.reportedAfterMs);
    }
    expect(children.size).toBe(0);
  }, 90_000);

  it("with a fixed sleep 5, each pod is held 5 s and then stopped the same way", async () => {
    const result = await run(Strategy.sleep5, 22);
    expect(result.warnings).toEqual([]);
    for (const pod of result.pods) {
      expect(pod.preStopMs).toBeGreaterThanOrEqual(5000);
      expect(pod.phaseAfter).toBe("Failed");
      expect(pod.unroutedAfterMs).toBeGreaterThanOrEqual(pod.reportedAfterMs);
    }
    expect(children.size).toBe(0);
  }, 90_000);
});
