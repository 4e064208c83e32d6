// Runs a list of scenarios one after the other (each on a fresh simulated cluster) and writes what
// they show: the SVG chart and, when asked, the figures as JSON.
import { mkdir, writeFile } from "node:fs/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { renderChart } from "./chart.ts";
import { killChildrenOnExit, makeChildren, type Children } from "./children.ts";
import { choosePodIp, PodIpError } from "./podip.ts";
import { profiles } from "./profile.ts";
import { Propagation } from "./proxy.ts";
import { runScenario, Strategy, type ScenarioResult, type ScenarioSpec } from "./scenario.ts";
import { inRepoTarget, type SimTarget } from "./simcluster.ts";
import { chartPanels } from "./summary.ts";

export interface MatrixDeps {
  readonly children: Children;
  readonly progress: (message: string) => void;
  /** Each scenario's files (controller log, pod directories) go below this directory. */
  readonly workRoot: string;
  /** The control plane: the in-repo API server unless a kubeconfig is given. */
  readonly target?: SimTarget;
}

/**
 * The bench modules' control plane: LAMEDUCK_SIM_KUBECONFIG names a kubeconfig, else the in-repo
 * server; with a kubeconfig, LAMEDUCK_SIM_POD_IP overrides the pods' address (podip.ts).
 */
export function simTargetFrom(env: Readonly<Record<string, string | undefined>>): SimTarget {
  const path = env["LAMEDUCK_SIM_KUBECONFIG"];
  const podIp = env["LAMEDUCK_SIM_POD_IP"];
  if (path !== undefined && path !== "") return { kind: "kubeconfig", path, podIp: choosePodIp(podIp, "LAMEDUCK_SIM_POD_IP") };
  if (podIp !== undefined && podIp !== "") throw new PodIpError("LAMEDUCK_SIM_POD_IP needs LAMEDUCK_SIM_KUBECONFIG: against the in-repo API server the pods serve on 127.0.0.1");
  return inRepoTarget;
}

/** The strategies the long-lived-streams rows compare (issue 16). */
export const streamStrategies = [Strategy.none, Strategy.sleep5, Strategy.lameduck, Strategy.lameduckDrain] as const;

/**
 * The matrix's long-lived-streams rows: 20 clients holding 2-8 s streams (sessions of a WebSocket
 * or gRPC client that reconnects when one ends) beside 50 requests/s, under kube-proxy-like
 * propagation. The requests go on fresh connections: a keep-alive pool that never closes its
 * connections holds the drain phase until --max (docs/operations.md), which is not what these rows
 * measure.
 */
export function streamSpecs(firstSeed: number): ScenarioSpec[] {
  return streamStrategies.map((strategy, i) => ({
    strategy,
    profile: profiles.fast,
    propagation: Propagation.perEndpoint,
    replicas: 4,
    workerReplicas: 0,
    rps: 50,
    keepAliveShare: 0,
    streams: { clients: 20, minMs: 2000, maxMs: 8000 },
    warmupMs: 3000,
    tailMs: 3000,
    seed: firstSeed + i,
  }));
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
      ...(deps.target === undefined ? {} : { target: deps.target }),
    });
    deps.progress(`  => ${String(result.load.failed)} of ${String(result.load.requests)} requests failed`);
    if (result.streams) deps.progress(`  => ${String(result.streams.cut)} of ${String(result.streams.opened)} streams cut, ${String(result.streams.failedOpens)} failed to open`);
    for (const w of result.warnings) deps.progress(`  warning: ${w}`);
    results.push(result);
  }
  return results;
}

/**
 * runMatrix for a process of its own (a bench module): its children and work directory are
 * removed when it ends, also on a signal; progress goes to stderr prefixed with `name`.
 */
export async function runMatrixHere(name: string, specs: readonly ScenarioSpec[]): Promise<ScenarioResult[]> {
  const children = makeChildren();
  const workRoot = makeWorkRoot();
  const removeHandlers = killChildrenOnExit(children, workRoot.remove);
  try {
    const progress = (m: string): void => {
      process.stderr.write(`${name}: ${m}\n`);
    };
    return await runMatrix(specs, { children, progress, workRoot: workRoot.path, target: simTargetFrom(process.env) });
  } finally {
    children.killAll();
    workRoot.remove();
    removeHandlers();
  }
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
