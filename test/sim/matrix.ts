// Runs a list of scenarios one after the other (each on a fresh simulated cluster) and writes what
// they show: the SVG chart and, when asked, the figures as JSON.
import { mkdir, writeFile } from "node:fs/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { renderChart } from "./chart.ts";
import type { Children } from "./children.ts";
import { Propagation } from "./proxy.ts";
import { runScenario, type ScenarioResult, type ScenarioSpec } from "./scenario.ts";
import { chartPanels } from "./summary.ts";

export interface MatrixDeps {
  readonly children: Children;
  readonly progress: (message: string) => void;
  /** Each scenario's files (controller log, pod directories) go below this directory. */
  readonly workRoot: string;
}

export async function runMatrix(specs: readonly ScenarioSpec[], deps: MatrixDeps): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const [i, spec] of specs.entries()) {
    deps.progress(`scenario ${String(i + 1)}/${String(specs.length)}: ${spec.strategy}, propagation ${spec.profile.name}, ${spec.propagation ?? Propagation.perEndpoint}`);
    const result = await runScenario(spec, {
      children: deps.children,
      progress: (m) => {
        deps.progress(`  ${m}`);
      },
      workDir: join(deps.workRoot, `scenario-${String(i + 1)}`),
    });
    deps.progress(`  => ${String(result.load.failed)} of ${String(result.load.requests)} requests failed`);
    for (const w of result.warnings) deps.progress(`  warning: ${w}`);
    results.push(result);
  }
  return results;
}

export async function writeChart(path: string, title: string, results: readonly ScenarioResult[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderChart(title, chartPanels(results)));
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A temporary directory for a run's scenarios and its remover (synchronous, for exit handlers). */
export function makeWorkRoot(): { readonly path: string; readonly remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "lameduck-sim-"));
  return { path, remove: () => { rmSync(path, { recursive: true, force: true }); } };
}
