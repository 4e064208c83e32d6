// `npm run demo`: a one-minute local rolling update, first without any preStop hook, then with
// lameduck, on a simulated cluster made of real parts (see README, "The local demo"). Everything
// listens on 127.0.0.1 only and every process it starts is stopped when it ends, also on Ctrl-C.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { killChildrenOnExit, makeChildren } from "./children.ts";
import { bundlePath, hookDir } from "./controller.ts";
import { runMatrix, writeChart } from "./matrix.ts";
import { profiles } from "./profile.ts";
import { Strategy, type ScenarioSpec, type Strategy as StrategyT } from "./scenario.ts";
import { checkTargets, formatTable, formatTargets } from "./summary.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const chartPath = join(root, "bench-results", "demo-rollout.svg");

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<number> {
  const children = makeChildren();
  killChildrenOnExit(children);
  const started = performance.now();
  const stamp = (m: string): void => {
    say(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${m}`);
  };
  say("lameduck demo: a rolling update of 4 web pods behind a Service, under steady load, twice.");
  say("  - each pod is a real HTTP server process; a simulated kubelet runs its preStop, then SIGTERMs it;");
  say("  - a simulated kube-proxy follows the Service's EndpointSlices 0.5-3 s late, as a real one does;");
  say("  - first with no preStop hook (what most pods have), then with lameduck's webhook, oracle and hook.");
  say("  Failed requests are requests a client saw fail (refused, reset, 5xx); keep-alive clients retry");
  say("  only what Go and browsers retry. A worker Deployment (no Service) is rolled alongside.\n");

  const haveLameduck = existsSync(bundlePath) && existsSync(join(hookDir, "hook-amd64"));
  const strategies: StrategyT[] = haveLameduck ? [Strategy.none, Strategy.lameduck] : [Strategy.none, Strategy.sleep5];
  if (!haveLameduck) say(`(dist/lameduck.mjs or dist/hook-amd64 is missing: run \`npm run build\`; showing a fixed sleep 5 instead)\n`);
  const specs: ScenarioSpec[] = strategies.map((strategy, i) => ({
    strategy,
    profile: profiles.fast,
    replicas: 4,
    workerReplicas: 2,
    rps: 100,
    warmupMs: 2000,
    tailMs: 3000,
    seed: 42 + i,
  }));
  const results = await runMatrix(specs, { children, progress: stamp });
  await writeChart(chartPath, "lameduck demo: requests and failures during a rolling update (fast propagation)", results);

  say(`\n${formatTable(results)}\n`);
  say(formatTargets(checkTargets(results)));
  const hookLine = results.flatMap((r) => r.hookLogs)[0];
  if (hookLine) say(`\nwhat one pod's hook said: ${hookLine}`);
  say(`\nchart: ${chartPath} (grey: answered, red: failed, yellow band: the rollout)`);
  say("the full matrix (fixed sleeps, a slow cloud-LB-like propagation) is `npm run bench`; README, \"The local demo\".");
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
});
