// What a lameduck rollout of 2 web pods and 1 worker must show, wherever its API server runs.
import { expect } from "vitest";
import type { ScenarioResult } from "./scenario.ts";

export function expectLameduckRollout(result: ScenarioResult): void {
  expect(result.warnings).toEqual([]);
  // The bundled controller logged no error: among others, its review thread loaded and never failed.
  expect(result.controllerErrors).toEqual([]);
  expect(result.load).toMatchObject({ failed: 0 });
  const web = result.hookLogs.filter((l) => l.startsWith("web-v1-"));
  expect(web).toHaveLength(2);
  for (const line of web) expect(line).toMatch(/lameduck: drained after .* quiet after/);
  expect(result.hookLogs.filter((l) => l.startsWith("worker-v1-"))).toEqual([expect.stringMatching(/unselected/)]);
  // Far below the hook's 10 s fallback sleep: the oracle answered.
  expect(result.worker?.maxDeleteToSigtermMs).toBeLessThan(3000);
}
