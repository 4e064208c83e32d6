// The `lameduck` command line: parses arguments and hands over to the subcommand.
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ConfigError, injectUsage, parseInjectConfig, parseRunConfig, runUsage } from "./config.ts";
import { version } from "./version.ts";

// The commands' modules load when their command runs: `--help` and `version` need none of the
// Kubernetes client, and start in a fraction of the time.
const opsCommandNames: readonly string[] = ["check", "status", "uninstall"];

const usage = `Usage: lameduck COMMAND [flags]

Zero-downtime pod termination for every workload in a Kubernetes cluster.

Commands:
  run        run the admission webhook, the hook distributor and the drain oracle
  inject     add the preStop hook to manifests offline (no webhook needed)
  check      check a cluster for lameduck: PASS/WARN/FAIL report
  status     hook versions per namespace and injected pods per mode
  uninstall  remove the webhook (and with --cleanup the controller's hook ConfigMaps)
  version    print the version

Run 'lameduck COMMAND --help' for a command's flags.
`;

const apiProbeTimeoutMs = 5000;
// A controller restarted together with its API server (a control-plane upgrade) gets a few seconds;
// after that the pod's restarts and its CrashLoopBackOff say more than a loop inside it would.
const apiProbeAttempts = 3;

async function firstAnswer(probe: () => Promise<string | undefined>): Promise<string | undefined> {
  let problem: string | undefined;
  for (let attempt = 0; attempt < apiProbeAttempts; attempt++) {
    if (attempt > 0) await sleep(1000 * attempt);
    problem = await probe();
    if (problem === undefined) return undefined;
  }
  return problem;
}

export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const [command, ...rest] = argv;
  // The launcher names the program kubectl calls it by (build/launcher.cjs).
  const program = env["LAMEDUCK_PROGRAM"] === "kubectl lameduck" ? "kubectl lameduck" : "lameduck";
  const out = (text: string): void => void process.stdout.write(program === "lameduck" ? text : text.replace(/^Usage: lameduck/gm, `Usage: ${program}`));
  const err = (text: string): void => void process.stderr.write(text);
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      out(usage);
      return command === undefined ? 2 : 0;
    case "version":
    case "--version":
      out(`lameduck ${version}\n`);
      return 0;
    case "run": {
      if (rest.includes("--help") || rest.includes("-h")) {
        out(runUsage);
        return 0;
      }
      const { ClusterConfigError, defaultPlaces, loadClusterConfig, probeApiServer, unreachable } = await import("./apiserver.ts");
      try {
        const config = parseRunConfig(rest, env, dirname(fileURLToPath(import.meta.url)));
        // Without --kubeconfig the controller runs as its pod's service account, never as whoever
        // runs it on a workstation.
        const cluster = loadClusterConfig({ kubeconfig: config.kubeconfig, context: undefined, onlyInCluster: true }, defaultPlaces(env));
        const problem = await firstAnswer(() => probeApiServer(cluster.kc, apiProbeTimeoutMs));
        if (problem !== undefined) {
          err(`lameduck run: ${unreachable(cluster, problem)}\n`);
          return 1;
        }
        const [{ run }, { makeLogger }] = await Promise.all([import("./run.ts"), import("./log.ts")]);
        return await run(config, cluster.kc, makeLogger(config.logLevel));
      } catch (e) {
        if (e instanceof ConfigError || e instanceof ClusterConfigError) {
          err(`lameduck run: ${e.message}\n`);
          return 2;
        }
        throw e;
      }
    }
    case "inject": {
      if (rest.includes("--help") || rest.includes("-h")) {
        out(injectUsage);
        return 0;
      }
      try {
        const config = parseInjectConfig(rest);
        const { processIo, runInject } = await import("./offline/command.ts");
        return await runInject(config, processIo);
      } catch (e) {
        if (e instanceof ConfigError) {
          err(`lameduck inject: ${e.message}\n\n${injectUsage}`);
          return 2;
        }
        throw e;
      }
    }
    default:
      if (opsCommandNames.includes(command)) {
        const { isOpsCommand, opsMain } = await import("./ops/commands.ts");
        if (isOpsCommand(command)) return opsMain(command, rest, { out, err, hookDir: dirname(fileURLToPath(import.meta.url)) });
      }
      err(`lameduck: unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}


