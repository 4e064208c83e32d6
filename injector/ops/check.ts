// `lameduck check`: reads the cluster once, judges it, asks the oracle, and reports PASS/WARN/FAIL.
import { randomUUID } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { loadHookSet } from "../distributor/hookset.ts";
import { judgeNodes, judgePodSecurity, judgeVersion } from "./check-cluster.ts";
import { HookSourceKind } from "../config.ts";
import { installedPolicy, judgeController, judgeCoverage, judgeHookSource, judgeWebhook } from "./check-install.ts";
import { probeOracle, type httpGet } from "./oracle-probe.ts";
import { warn, type Finding } from "./report.ts";
import { readSnapshot, type ClusterSnapshot, type InstallNames } from "./snapshot.ts";
import { judgeInjector } from "../policy/check.ts";

export interface CheckOptions {
  readonly names: InstallNames;
  /** --oracle=HOST:PORT: ask the oracle there instead of at its Service's ClusterIP. */
  readonly oracle: string | undefined;
  /** Where this CLI's hook binaries are, to compare their version with the cluster's. */
  readonly hookDir: string | undefined;
  readonly timeoutMs: number;
  readonly now: Date;
}

async function localHash(hookDir: string | undefined): Promise<string | undefined> {
  if (hookDir === undefined) return undefined;
  try {
    return (await loadHookSet(hookDir)).hash;
  } catch {
    // Running from a checkout without a build: there is nothing local to compare.
    return undefined;
  }
}

export async function judge(s: ClusterSnapshot, options: CheckOptions, get?: typeof httpGet): Promise<Finding[]> {
  const { names } = options;
  const version = judgeVersion(s.version);
  const ours = s.webhookConfigs.ok ? s.webhookConfigs.value.find((c) => c.metadata?.name === names.webhookConfig) : undefined;
  const { policy, hookSource } = installedPolicy(s.deployment.ok ? s.deployment.value : undefined, ours, names);
  const findings: Finding[] = [...version.findings, ...judgeNodes(s.nodes, version.version, hookSource?.kind === HookSourceKind.image), ...judgeController(s.deployment, names)];
  findings.push(...judgeWebhook({ webhookConfigs: s.webhookConfigs, tlsSecret: s.tlsSecret, webhookSlices: s.webhookSlices, names, now: options.now }));

  const service = s.oracleService.ok ? s.oracleService.value : undefined;
  const ip = service?.spec?.clusterIP;
  const port = service?.spec?.ports?.[0]?.port ?? 8080;
  const serviceAddress = ip === undefined || ip === "" || ip === "None" ? undefined : `${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
  if (!s.oracleService.ok && options.oracle === undefined) findings.push(warn("oracle", `could not read the oracle Service (${s.oracleService.error})`));
  else {
    // A controller pod is a ready endpoint of the webhook Service, so the oracle should say "serving".
    const controllerUid = s.webhookSlices.ok ? s.webhookSlices.value.flatMap((sl) => sl.endpoints ?? []).find((e) => e.targetRef?.uid !== undefined)?.targetRef?.uid : undefined;
    findings.push(await probeOracle({ address: options.oracle ?? serviceAddress, explicit: options.oracle !== undefined, uid: controllerUid ?? randomUUID(), timeoutMs: options.timeoutMs }, get));
  }

  if (!s.namespaces.ok) findings.push(warn("namespaces", `could not list namespaces (${s.namespaces.error})`));
  else {
    findings.push(...judgePodSecurity(s.namespaces.value));
    if (!s.configMaps.ok) findings.push(warn("configmaps", `could not list hook ConfigMaps (${s.configMaps.error})`));
    else if (hookSource !== undefined && hookSource.kind === HookSourceKind.image) findings.push(...judgeHookSource(hookSource, s.configMaps.value));
    else {
      if (hookSource !== undefined) findings.push(...judgeHookSource(hookSource, s.configMaps.value));
      findings.push(...judgeCoverage({ namespaces: s.namespaces.value, configMaps: s.configMaps.value, policy, localHash: await localHash(options.hookDir), now: options.now }));
    }
  }
  return findings;
}

export async function runCheck(kc: KubeConfig, options: CheckOptions): Promise<Finding[]> {
  const snapshot = await readSnapshot(kc, options.names);
  const registered = snapshot.webhookConfigs.ok && snapshot.webhookConfigs.value.some((c) => c.metadata?.name === options.names.webhookConfig);
  const injector = await judgeInjector(kc, snapshot.deployment.ok ? snapshot.deployment.value : undefined, registered);
  return [...(await judge(snapshot, options)), ...injector];
}
