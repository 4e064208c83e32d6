// The `lameduck` command line: parses arguments and hands over to the subcommand.
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, injectUsage, parseInjectConfig, parseRunConfig, runUsage } from "./config.ts";
import { processIo, runInject } from "./offline/command.ts";
import { makeLogger } from "./log.ts";
import { isOpsCommand, opsMain } from "./ops/commands.ts";
import { run } from "./run.ts";
import { version } from "./version.ts";

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

export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const [command, ...rest] = argv;
  const out = (text: string): void => void process.stdout.write(text);
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
      try {
        const config = parseRunConfig(rest, env, dirname(fileURLToPath(import.meta.url)));
        return await run(config, makeLogger(config.logLevel));
      } catch (e) {
        if (e instanceof ConfigError) {
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
        return await runInject(parseInjectConfig(rest), processIo);
      } catch (e) {
        if (e instanceof ConfigError) {
          err(`lameduck inject: ${e.message}\n\n${injectUsage}`);
          return 2;
        }
        throw e;
      }
    }
    default:
      if (isOpsCommand(command)) return opsMain(command, rest, { out, err, hookDir: dirname(fileURLToPath(import.meta.url)) });
      err(`lameduck: unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}


