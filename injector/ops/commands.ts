// The operator subcommands: `lameduck check`, `lameduck status`, `lameduck uninstall`. Flags are
// parsed here; each command reads the cluster through the operator's own kubeconfig.
import { parseArgs } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import { ClusterConfigError, defaultPlaces, loadClusterConfig, probeApiServer, unreachable, type ClusterConfig, type ConfigPlaces } from "../apiserver.ts";
import { parseDuration } from "../duration.ts";
import { runCheck } from "./check.ts";
import { exitCode, fail, formatReport } from "./report.ts";
import { defaultInstallNames, type InstallNames } from "./snapshot.ts";
import { formatStatus, readStatus } from "./status.ts";
import { uninstall } from "./uninstall.ts";

export const opsCommands = ["check", "status", "uninstall"] as const;
export type OpsCommand = (typeof opsCommands)[number];

export function isOpsCommand(name: string): name is OpsCommand {
  return (opsCommands as readonly string[]).includes(name);
}

export interface OpsIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Directory of this CLI's hook binaries (beside the bundle). */
  readonly hookDir: string;
  /** Builds the client; tests point it at a fake API server. */
  readonly kubeConfig?: (kubeconfig: string | undefined, context: string | undefined) => KubeConfig;
  /** Where the kubeconfig is looked for (default: the process's environment and home). */
  readonly places?: ConfigPlaces;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

// How long GET /version may take before the API server counts as unreachable.
const apiProbeTimeoutMs = 10_000;

const common = `  --kubeconfig=PATH            kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)
  --context=NAME               kubeconfig context (default: the current one)
  --namespace=NAME             namespace lameduck is installed in (default lameduck-system)
`;

export const usages: Readonly<Record<OpsCommand, string>> = {
  check: `Usage: lameduck check [flags]

Checks a cluster for lameduck: server version and native sleep support, node architectures, Pod
Security levels, the webhook's registration and certificates, the controller, the oracle, and the hook
ConfigMap in every selected namespace. Prints PASS/WARN/FAIL; exits 1 when anything FAILs.

Flags:
${common}  --oracle=HOST:PORT           ask the oracle here (e.g. after kubectl port-forward) instead of its ClusterIP
  --timeout=DURATION           how long to wait for the oracle (default 3s)
`,
  status: `Usage: lameduck status [flags]

Shows which hook versions each namespace holds and how many running pods are injected, per mode.

Flags:
${common}  --output=text|json           output format (default text)
`,
  uninstall: `Usage: lameduck uninstall [flags]

Removes the MutatingWebhookConfiguration, so that no new pod is injected. With --cleanup it then
scales the controller to zero and deletes every hook ConfigMap lameduck created, in every namespace.
Running pods keep working. Afterwards remove the rest with: kubectl delete -k manifests/

Flags:
${common}  --cleanup                    also stop the controller and delete the hook ConfigMaps
  --dry-run                    list what would be removed, remove nothing
  --timeout=DURATION           how long to wait for the controller's pods to stop (default 2m)
`,
};

class UsageError extends Error {
  override name = "UsageError";
}

function durationFlag(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const d = parseDuration(text);
  if (!d.ok) throw new UsageError(`--${flag}: ${d.error}`);
  return d.ms;
}

export async function opsMain(command: OpsCommand, args: readonly string[], io: OpsIo): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.out(usages[command]);
    return 0;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: "string" },
        context: { type: "string" },
        namespace: { type: "string" },
        ...(command === "check" ? { oracle: { type: "string" }, timeout: { type: "string" } } : {}),
        ...(command === "status" ? { output: { type: "string", short: "o" } } : {}),
        ...(command === "uninstall" ? { cleanup: { type: "boolean" }, "dry-run": { type: "boolean" }, timeout: { type: "string" } } : {}),
      },
    }));
  } catch (e) {
    io.err(`lameduck ${command}: ${e instanceof Error ? e.message : String(e)}\n\n${usages[command]}`);
    return 2;
  }
  const text = (key: string): string | undefined => {
    const v: unknown = (values as Record<string, unknown>)[key];
    return typeof v === "string" ? v : undefined;
  };
  const flag = (key: string): boolean => (values as Record<string, unknown>)[key] === true;
  const names: InstallNames = { ...defaultInstallNames, namespace: text("namespace") ?? defaultInstallNames.namespace };
  // No cluster is a failed check (a report, exit 1) and one line for the other commands.
  const noCluster = (message: string, details: readonly string[]): number => {
    if (command === "check") io.out(formatReport([fail("cluster", message, details)]));
    else io.err(`lameduck ${command}: ${message}\n`);
    return 1;
  };
  let cluster: ClusterConfig;
  try {
    cluster = io.kubeConfig === undefined
      ? loadClusterConfig({ kubeconfig: text("kubeconfig"), context: text("context") }, io.places ?? defaultPlaces(process.env))
      : { kc: io.kubeConfig(text("kubeconfig"), text("context")), source: "the given kubeconfig" };
  } catch (e) {
    if (!(e instanceof ClusterConfigError)) throw e;
    return command === "check" && e.tried.length > 0
      ? noCluster("no Kubernetes cluster configured; tried:", [...e.tried, "point --kubeconfig or $KUBECONFIG at a kubeconfig (the one kubectl uses)"])
      : noCluster(e.message, []);
  }
  const problem = await probeApiServer(cluster.kc, apiProbeTimeoutMs);
  if (problem !== undefined) return noCluster(unreachable(cluster, problem), []);
  const { kc } = cluster;
  try {
    switch (command) {
      case "check": {
        const findings = await runCheck(kc, { names, oracle: text("oracle"), hookDir: io.hookDir, timeoutMs: durationFlag("timeout", text("timeout"), 3000), now: (io.now ?? (() => new Date()))() });
        io.out(formatReport(findings));
        return exitCode(findings);
      }
      case "status": {
        const output = text("output") ?? "text";
        if (output !== "text" && output !== "json") throw new UsageError(`--output: "${output}" is not text or json`);
        const status = await readStatus(kc);
        io.out(output === "json" ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
        return 0;
      }
      case "uninstall": {
        const result = await uninstall(kc, {
          names,
          cleanup: flag("cleanup"),
          dryRun: flag("dry-run"),
          timeoutMs: durationFlag("timeout", text("timeout"), 120_000),
          out: (line) => { io.out(`${line}\n`); },
          ...(io.sleep === undefined ? {} : { sleep: io.sleep }),
        });
        return result.failures.length > 0 ? 1 : 0;
      }
    }
  } catch (e) {
    io.err(`lameduck ${command}: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
