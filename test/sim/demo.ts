// `npm run demo`: a one-minute local rolling update, first without any preStop hook, then with
// lameduck, on a simulated cluster made of real parts (see README, "The local demo"). Everything
// listens on 127.0.0.1 only (with --kubeconfig, the pods' apps on the pod address) and every process
// it starts is stopped when it ends, also on Ctrl-C.
// Options (for `npm run demo:repeat`, repeat.ts): --chart=PATH instead of bench-results/, and
// --json=PATH to write each scenario's figures. --kubeconfig=PATH runs the same scenarios against
// that API server instead of the in-repo one (simcluster.ts: it must run an EndpointSlice
// controller and have no node but the simulation's own); the pods then serve on --pod-ip=ADDR, by
// default this machine's first non-loopback IPv4 address (podip.ts: a real API server refuses a
// loopback address in an EndpointSlice). --injector=policy runs the lameduck scenarios in policy
// mode, installed as manifests/overlays/policy installs it, the webhook unregistered (policy.ts).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { killChildrenOnExit, makeChildren } from "./children.ts";
import { bundlePath, hookDir } from "./controller.ts";
import { makeWorkRoot, runMatrix, writeChart, writeJson } from "./matrix.ts";
import { profiles, type Profile } from "./profile.ts";
import { Propagation } from "./proxy.ts";
import { Strategy, type ScenarioSpec, type Strategy as StrategyT } from "./scenario.ts";
import { Injection } from "./injection.ts";
import { choosePodIp, PodIpError } from "./podip.ts";
import { inRepoTarget, type SimTarget } from "./simcluster.ts";
import { checkTargets, figuresOf, formatTable, formatTargets } from "./summary.ts";
import { startExitWatchdog } from "./watchdog.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const { values: options } = parseArgs({
  options: { chart: { type: "string" }, json: { type: "string" }, kubeconfig: { type: "string" }, "pod-ip": { type: "string" }, injector: { type: "string" } },
});
const chartPath = resolve(options.chart ?? join(root, "bench-results", "demo-rollout.svg"));

// `npm run demo` must always return: if it is still running this long after it started, or this
// long after it finished, the exit watchdog prints what holds it and stops it.
const runLimitMs = 10 * 60_000;
const exitLimitMs = 5000;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function targetOf(): SimTarget {
  if (options.kubeconfig === undefined) {
    if (options["pod-ip"] !== undefined) throw new PodIpError("--pod-ip needs --kubeconfig: against the in-repo API server the pods serve on 127.0.0.1");
    return inRepoTarget;
  }
  return { kind: "kubeconfig", path: resolve(options.kubeconfig), podIp: choosePodIp(options["pod-ip"], "--pod-ip") };
}

class UsageError extends Error {}

function injectionOf(): Injection {
  const value = options.injector ?? "webhook";
  if (value === "webhook") return Injection.webhook;
  if (value === "policy") return Injection.policy;
  throw new UsageError(`--injector=${value}: expected webhook or policy`);
}

async function main(): Promise<number> {
  let target: SimTarget;
  let injection: Injection;
  try {
    target = targetOf();
    injection = injectionOf();
  } catch (err) {
    if (!(err instanceof PodIpError) && !(err instanceof UsageError)) throw err;
    process.stderr.write(`demo: ${err.message}\n`);
    return 1;
  }
  const children = makeChildren();
  const workRoot = makeWorkRoot();
  killChildrenOnExit(children, workRoot.remove);
  const started = performance.now();
  const stamp = (m: string): void => {
    say(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${m}`);
  };
  say("lameduck demo: rolling updates of 4 web pods behind a Service, under steady load (100 requests/s).");
  say("  - each pod is a real HTTP server process; a simulated kubelet runs its preStop, then SIGTERMs it;");
  say("  - a simulated kube-proxy follows the Service's EndpointSlices late, as real load balancers do;");
  say("  - 1 and 2: kube-proxy-like propagation (0.5-3 s), with no preStop (most pods today), then with lameduck;");
  say("  - 3 and 4: a slower consumer (6-10 s), with a hand-written `preStop: sleep 5`, then with lameduck.");
  say("  Failed: requests a client saw fail (refused, reset, 5xx). Keep-alive clients retry only what Go and");
  say("  browsers retry. A worker Deployment (no Service selects it) is rolled alongside each time.");
  say(injection === Injection.policy
    ? "  lameduck in policy mode: the API server injects pods through the MutatingAdmissionPolicy; no webhook.\n"
    : "  lameduck injects pods through its webhook (--injector=policy: through a MutatingAdmissionPolicy).\n");

  const haveLameduck = existsSync(bundlePath) && existsSync(join(hookDir, "hook-amd64"));
  if (!haveLameduck) {
    say("dist/lameduck.mjs or dist/hook-amd64 is missing: run `npm run demo` (it builds first).");
    return 1;
  }
  const plan: [StrategyT, Profile][] = [
    [Strategy.none, profiles.fast],
    [Strategy.lameduck, profiles.fast],
    [Strategy.sleep5, profiles.medium],
    [Strategy.lameduck, profiles.medium],
  ];
  const specs: ScenarioSpec[] = plan.map(([strategy, profile], i) => ({
    strategy,
    profile,
    propagation: Propagation.perEndpoint,
    replicas: 4,
    workerReplicas: 2,
    rps: 100,
    warmupMs: 1500,
    tailMs: 2000,
    seed: 42 + i,
    injection,
  }));
  if (target.kind === "kubeconfig") say(`control plane: the API server of ${target.path}; the pods serve on ${target.podIp}\n`);
  const results = await runMatrix(specs, { children, progress: stamp, workRoot: workRoot.path, target });
  await writeChart(chartPath, "lameduck demo: answered (grey) and failed (red) requests per 0.5 s during rolling updates", results);
  if (options.json !== undefined) await writeJson(options.json, { scenarios: figuresOf(results) });

  say(`\n${formatTable(results)}\n`);
  say("checks (met: the figures above show it; MISSED: they do not; docs/simulation.md explains each):");
  say(formatTargets(checkTargets(results)));
  const hookLine = results.flatMap((r) => r.hookLogs)[0];
  if (hookLine) say(`\nwhat one pod's hook said: ${hookLine}`);
  say("\nproxy caught up: from a pod's deletion until the proxy stopped sending it new connections; lameduck");
  say("releases a pod once that has happened and no new connection has arrived for 2 s, whatever it took.");
  say(`chart: ${chartPath} (grey: answered, red: failed, yellow band: the rollout)`);
  say("the full matrix (fixed sleeps, a slow cloud-LB-like propagation) is `npm run bench`; see docs/simulation.md.");
  return 0;
}

const watchdog = startExitWatchdog("demo", exitLimitMs);
watchdog.deadline(runLimitMs, `still running ${String(runLimitMs / 60_000)} min after it started`);
const code = await main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
});
process.exitCode = code;
// Every server and child is closed by now and the process ends by itself.
watchdog.deadline(exitLimitMs, `still running ${String(exitLimitMs / 1000)} s after it finished`);
