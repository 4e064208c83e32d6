// Checks about lameduck's own installation: the controller, its webhook registration and TLS, and the
// hook ConfigMaps the distributor keeps in every namespace.
import type { V1ConfigMap, V1Deployment, V1EndpointSlice, V1MutatingWebhookConfiguration, V1Namespace, V1Secret } from "@kubernetes/client-node";
import { ConfigError, HookSourceKind, NamespaceSelection, parseRunConfig, type HookSource } from "../config.ts";
import { Label } from "../names.ts";
import { namespaceInjected, namespaceTerminating, type NamespacePolicy } from "../namespace-policy.ts";
import { judgeCertificates } from "./certs.ts";
import type { Read } from "./kube.ts";
import { fail, listed, pass, warn, type Finding } from "./report.ts";
import type { InstallNames } from "./snapshot.ts";

/** The controller's namespace policy: from its Deployment's flags, else from the webhook's selector. */
export function installedPolicy(
  deployment: V1Deployment | undefined,
  webhook: V1MutatingWebhookConfiguration | undefined,
  names: InstallNames,
): { policy: NamespacePolicy; source: string; hookSource?: HookSource } {
  const container = deployment?.spec?.template.spec?.containers[0];
  if (container !== undefined) {
    try {
      const config = parseRunConfig(container.args ?? [], { POD_NAMESPACE: names.namespace }, "");
      return { policy: config, source: `Deployment ${names.namespace}/${names.deployment}`, hookSource: config.hookSource };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  const expressions = webhook?.webhooks?.[0]?.namespaceSelector?.matchExpressions ?? [];
  const optIn = expressions.some((e) => e.key === Label.inject && e.operator === "In");
  const excluded = expressions.find((e) => e.key === "kubernetes.io/metadata.name" && e.operator === "NotIn")?.values ?? [names.namespace, "kube-system", "kube-node-lease"];
  return {
    policy: { namespaceSelection: optIn ? NamespaceSelection.optIn : NamespaceSelection.optOut, excludedNamespaces: excluded },
    source: `MutatingWebhookConfiguration ${names.webhookConfig}`,
  };
}

export function judgeController(read: Read<V1Deployment>, names: InstallNames): Finding[] {
  const area = "controller";
  // Without the Deployment (a renamed one, or the controller running outside the cluster with
  // --webhook-url) the webhook's endpoints and the oracle's answer below still tell whether it runs.
  if (!read.ok) return [warn(area, read.status === 404 ? `Deployment ${names.namespace}/${names.deployment} not found; judging the controller by its Service endpoints below` : `could not read the controller (${read.error})`)];
  const want = read.value.spec?.replicas ?? 1;
  const ready = read.value.status?.readyReplicas ?? 0;
  if (ready === 0) return [fail(area, `no ready replica of ${names.namespace}/${names.deployment} (0/${want}): pods are created without hooks and hooks fall back to sleeping`)];
  if (ready < want) return [warn(area, `${ready}/${want} replicas ready`)];
  return [pass(area, `${ready}/${want} replicas ready`)];
}

export interface WebhookInputs {
  readonly webhookConfigs: Read<readonly V1MutatingWebhookConfiguration[]>;
  readonly tlsSecret: Read<V1Secret>;
  readonly webhookSlices: Read<readonly V1EndpointSlice[]>;
  readonly names: InstallNames;
  readonly now: Date;
}

function matchesPodCreate(w: NonNullable<V1MutatingWebhookConfiguration["webhooks"]>[number]): boolean {
  return (w.rules ?? []).some((r) => (r.resources ?? []).some((x) => x === "pods" || x === "*") && (r.operations ?? []).some((o) => o === "CREATE" || o === "*"));
}

export function judgeWebhook(input: WebhookInputs): Finding[] {
  const area = "webhook";
  const { names } = input;
  if (!input.webhookConfigs.ok) return [warn(area, `could not list webhooks (${input.webhookConfigs.error})`)];
  const ours = input.webhookConfigs.value.find((c) => c.metadata?.name === names.webhookConfig);
  if (ours === undefined) return [fail(area, `MutatingWebhookConfiguration ${names.webhookConfig} is not registered: no pod gets a hook`)];
  const findings: Finding[] = [];
  const [hook] = ours.webhooks ?? [];
  if (hook === undefined) return [fail(area, `MutatingWebhookConfiguration ${names.webhookConfig} has no webhook`)];
  const svc = hook.clientConfig.service;
  const problems: string[] = [];
  if (hook.failurePolicy !== "Ignore") problems.push(`failurePolicy is ${hook.failurePolicy ?? "Fail (default)"}: an unavailable lameduck would block every pod creation`);
  if (!(hook.rules ?? []).every((r) => (r.operations ?? []).every((o) => o === "CREATE"))) problems.push("registered for more than CREATE: it also receives updates, status, deletes");
  if (svc !== undefined && (svc.name !== names.webhookService || svc.namespace !== names.namespace)) problems.push(`calls Service ${svc.namespace}/${svc.name}, not ${names.namespace}/${names.webhookService}`);
  findings.push(problems.length > 0 ? fail(area, `${names.webhookConfig} is registered but misconfigured`, problems) : pass(area, `${names.webhookConfig} is registered for pod CREATE, failurePolicy Ignore, timeout ${hook.timeoutSeconds ?? 10}s`));

  if (!input.webhookSlices.ok) findings.push(warn(area, `could not read the webhook Service's endpoints (${input.webhookSlices.error})`));
  else {
    const ready = input.webhookSlices.value.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
    findings.push(ready > 0 ? pass(area, `Service ${names.webhookService} has ${ready} ready endpoint(s)`) : fail(area, `Service ${names.webhookService} has no ready endpoint: webhook calls fail open after the timeout, and pods get no hook`));
  }
  const others = input.webhookConfigs.value.filter((c) => c !== ours && (c.webhooks ?? []).some(matchesPodCreate)).map((c) => c.metadata?.name ?? "");
  if (others.length > 0) {
    findings.push(pass(area, `other webhooks also mutate pods: ${listed(others)}`, [
      hook.reinvocationPolicy === "IfNeeded" ? "containers they add (service-mesh sidecars) get a preStop when lameduck is reinvoked" : "reinvocationPolicy is not IfNeeded: containers added after lameduck get no preStop",
    ]));
  }

  const secret = input.tlsSecret.ok ? input.tlsSecret.value : undefined;
  if (!input.tlsSecret.ok && input.tlsSecret.status !== 404) findings.push(warn("tls", `could not read the TLS Secret (${input.tlsSecret.error})`));
  const crt = secret?.data?.["tls.crt"];
  findings.push(
    ...judgeCertificates({
      caBundle: hook.clientConfig.caBundle,
      servingCert: crt === undefined ? undefined : Buffer.from(crt, "base64").toString("utf8"),
      // Registered by URL (--webhook-url, a controller outside the cluster): the certificate names its host.
      host: hook.clientConfig.url === undefined ? `${svc?.name ?? names.webhookService}.${svc?.namespace ?? names.namespace}.svc` : new URL(hook.clientConfig.url).hostname.replace(/^\[(.*)\]$/, "$1"),
      now: input.now,
    }),
  );
  return findings;
}

const hookPrefix = "lameduck-hook-";

function hashOf(cm: V1ConfigMap): string {
  return cm.metadata?.labels?.[Label.hook] ?? (cm.metadata?.name ?? "").slice(hookPrefix.length);
}

export interface CoverageInputs {
  readonly namespaces: readonly V1Namespace[];
  readonly configMaps: readonly V1ConfigMap[];
  readonly policy: NamespacePolicy;
  /** Hash of the hooks this CLI ships, when it has them (dist/hook-*). */
  readonly localHash: string | undefined;
  readonly now: Date;
}

/** A namespace this young may simply not have been reconciled yet. */
const graceMs = 2 * 60 * 1000;

/** The version most namespaces hold, newest ConfigMap breaking ties: what the controller distributes. */
export function currentHash(configMaps: readonly V1ConfigMap[]): string | undefined {
  const score = new Map<string, { count: number; newest: number }>();
  for (const cm of configMaps) {
    const h = hashOf(cm);
    const s = score.get(h) ?? { count: 0, newest: 0 };
    score.set(h, { count: s.count + 1, newest: Math.max(s.newest, new Date(cm.metadata?.creationTimestamp ?? 0).getTime()) });
  }
  return [...score].sort(([, a], [, b]) => b.count - a.count || b.newest - a.newest)[0]?.[0];
}

export function judgeCoverage(input: CoverageInputs): Finding[] {
  const area = "configmaps";
  const ours = input.configMaps.filter((cm) => (cm.metadata?.name ?? "").startsWith(hookPrefix));
  const held = new Map<string, Set<string>>();
  for (const cm of ours) {
    const ns = cm.metadata?.namespace ?? "";
    held.set(ns, (held.get(ns) ?? new Set()).add(hashOf(cm)));
  }
  const eligible = input.namespaces.filter((ns) => !namespaceTerminating(ns) && namespaceInjected(ns.metadata?.name ?? "", ns, input.policy).inject);
  const names = new Set(eligible.map((ns) => ns.metadata?.name ?? ""));
  const current = input.localHash !== undefined && ours.some((cm) => hashOf(cm) === input.localHash) ? input.localHash : currentHash(ours);
  const findings: Finding[] = [];
  if (current === undefined) {
    return eligible.length === 0 ? [warn(area, "no namespace is selected for injection")] : [fail(area, `no hook ConfigMap in any of ${eligible.length} selected namespaces: the distributor is not running`)];
  }
  if (input.localHash !== undefined && input.localHash !== current) {
    findings.push(warn(area, `this lameduck CLI ships hook version ${input.localHash}, the cluster distributes ${current}: the CLI and the controller are different releases`));
  }
  const missing = eligible.filter((ns) => !(held.get(ns.metadata?.name ?? "")?.has(current) ?? false));
  const young = missing.filter((ns) => input.now.getTime() - new Date(ns.metadata?.creationTimestamp ?? 0).getTime() < graceMs).map((ns) => ns.metadata?.name ?? "");
  const old = missing.map((ns) => ns.metadata?.name ?? "").filter((n) => !young.includes(n));
  if (old.length > 0) findings.push(fail(area, `${old.length} of ${eligible.length} selected namespaces lack lameduck-hook-${current}: their new pods mount no hook and stop without waiting`, [listed(old)]));
  if (young.length > 0) findings.push(warn(area, `${young.length} namespace(s) created in the last 2 minutes lack it so far: ${listed(young)}`));
  if (missing.length === 0) findings.push(pass(area, `lameduck-hook-${current} is in all ${eligible.length} selected namespaces`));
  const olderVersions = [...held].filter(([ns, hashes]) => names.has(ns) && [...hashes].some((h) => h !== current)).map(([ns]) => ns);
  if (olderVersions.length > 0) findings.push(pass(area, `${olderVersions.length} namespace(s) also keep an older version while pods still mount it: ${listed(olderVersions)}`));
  const stray = [...held.keys()].filter((ns) => !names.has(ns));
  if (stray.length > 0) findings.push(warn(area, `hook ConfigMaps in namespaces that are not selected (the distributor removes them): ${listed(stray)}`));
  return findings;
}

/**
 * The hook source from the controller's flags. With the image the distributor stands down: the
 * ConfigMaps still there are old versions, deleted once no pod carries them, and none is missing.
 */
export function judgeHookSource(hookSource: HookSource, configMaps: readonly V1ConfigMap[]): Finding[] {
  if (hookSource.kind === HookSourceKind.configmap) return [pass("hook source", "configmap: the distributor keeps the hook ConfigMap in every selected namespace")];
  const findings = [pass("hook source", `image ${hookSource.image}: pods mount it as an image volume, no hook ConfigMaps are distributed (every node needs containerd 2.1+ or CRI-O 1.31+, see docs/operations.md)`)];
  const left = configMaps.filter((cm) => (cm.metadata?.name ?? "").startsWith(hookPrefix));
  if (left.length > 0) {
    const spaces = [...new Set(left.map((cm) => cm.metadata?.namespace ?? ""))];
    findings.push(pass("configmaps", `${left.length} hook ConfigMap(s) from before the image remain while pods carry their version; the controller deletes each once none does: ${listed(spaces)}`));
  }
  return findings;
}
