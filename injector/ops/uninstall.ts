// `lameduck uninstall [--cleanup] [--dry-run]`. The order matters:
//   1. the MutatingWebhookConfiguration (and in policy mode the MutatingAdmissionPolicy and its
//      binding), so that no new pod is injected;
//   2. with --cleanup, the controller is scaled to zero, because its distributor would otherwise put
//      the ConfigMaps straight back, and then every hook ConfigMap it created, in every namespace.
// Pods already running keep their hook: the kubelet read the immutable ConfigMap when the pod started
// and stops watching immutable ones (see docs/operations.md for the fine print).
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { policyName } from "../policy/generate.ts";
import { readOptional } from "./kube.ts";
import { managedConfigMapSelector, type InstallNames } from "./snapshot.ts";

export interface UninstallOptions {
  readonly names: InstallNames;
  readonly cleanup: boolean;
  readonly dryRun: boolean;
  /** How long to wait for the controller's pods to go away before deleting ConfigMaps. */
  readonly timeoutMs: number;
  readonly out: (line: string) => void;
  /** Injected so tests need not wait in real time. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const hookPrefix = "lameduck-hook-";
const pollMs = 1000;

export interface UninstallResult {
  readonly webhookDeleted: boolean;
  readonly configMapsDeleted: readonly string[];
  readonly failures: readonly string[];
}

export async function uninstall(kc: KubeConfig, options: UninstallOptions): Promise<UninstallResult> {
  const { names, out, dryRun } = options;
  const would = dryRun ? "would delete" : "deleted";
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const failures: string[] = [];
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  let webhookDeleted = false;
  const webhook = await readOptional(`read MutatingWebhookConfiguration ${names.webhookConfig}`, () => admission.readMutatingWebhookConfiguration({ name: names.webhookConfig }));
  if (webhook === undefined) out(`MutatingWebhookConfiguration ${names.webhookConfig}: not found`);
  else {
    if (!dryRun) await admission.deleteMutatingWebhookConfiguration({ name: names.webhookConfig });
    webhookDeleted = !dryRun;
    out(`MutatingWebhookConfiguration ${names.webhookConfig}: ${would}; new pods are no longer injected`);
  }
  // Policy mode (docs/operations.md, "Webhook or policy"): the API server injects through these.
  const policy = await readOptional(`read MutatingAdmissionPolicy ${policyName}`, () => admission.readMutatingAdmissionPolicy({ name: policyName }));
  if (policy !== undefined) {
    if (!dryRun) {
      await admission.deleteMutatingAdmissionPolicyBinding({ name: policyName }).catch((err: unknown) => failures.push(`delete MutatingAdmissionPolicyBinding ${policyName}: ${String(err)}`));
      await admission.deleteMutatingAdmissionPolicy({ name: policyName });
    }
    out(`MutatingAdmissionPolicy ${policyName} and its binding: ${would}; the API server no longer injects new pods`);
  }
  if (!options.cleanup) {
    out("the controller keeps running, so hooks in running pods still get answers; run again with --cleanup to remove it and the hook ConfigMaps");
    return { webhookDeleted, configMapsDeleted: [], failures };
  }

  const { namespace } = names;
  const deployment = await readOptional(`read Deployment ${namespace}/${names.deployment}`, () => apps.readNamespacedDeployment({ namespace, name: names.deployment }));
  if (deployment === undefined) out(`Deployment ${namespace}/${names.deployment}: not found`);
  else if ((deployment.spec?.replicas ?? 1) > 0 || (deployment.status?.replicas ?? 0) > 0) {
    if (dryRun) out(`Deployment ${namespace}/${names.deployment}: would scale to 0 replicas so its distributor stops recreating ConfigMaps`);
    else {
      await apps.patchNamespacedDeployment({ namespace, name: names.deployment, body: { spec: { replicas: 0 } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
      out(`Deployment ${namespace}/${names.deployment}: scaled to 0 replicas`);
      const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
      const deadline = Date.now() + options.timeoutMs;
      for (;;) {
        const left = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items.length;
        if (left === 0) break;
        if (Date.now() >= deadline) {
          failures.push(`${left} controller pod(s) still running after ${Math.round(options.timeoutMs / 1000)}s; their distributor may recreate ConfigMaps`);
          out(`warning: ${failures.at(-1) ?? ""}`);
          break;
        }
        await sleep(pollMs);
      }
    }
  }

  const configMaps = (await core.listConfigMapForAllNamespaces({ labelSelector: managedConfigMapSelector })).items.filter((cm) => (cm.metadata?.name ?? "").startsWith(hookPrefix));
  const deleted: string[] = [];
  for (const cm of configMaps) {
    const ns = cm.metadata?.namespace ?? "";
    const name = cm.metadata?.name ?? "";
    const what = `${ns}/${name}`;
    if (dryRun) {
      out(`ConfigMap ${what}: ${would}`);
      deleted.push(what);
      continue;
    }
    const gone = await readOptional(`delete ConfigMap ${what}`, () => core.deleteNamespacedConfigMap({ namespace: ns, name })).then(
      () => true,
      (err: unknown) => {
        failures.push(err instanceof Error ? err.message : String(err));
        return false;
      },
    );
    if (gone) {
      deleted.push(what);
      out(`ConfigMap ${what}: ${would}`);
    }
  }
  const namespaces = new Set(deleted.map((d) => d.split("/")[0]));
  out(`${dryRun ? "would remove" : "removed"} ${deleted.length} hook ConfigMap(s) from ${namespaces.size} namespace(s)${failures.length > 0 ? `; ${failures.length} failure(s)` : ""}`);
  if (!dryRun) out(`then remove the rest: kubectl delete -k manifests/ (or kubectl delete namespace ${namespace})`);
  return { webhookDeleted, configMapsDeleted: deleted, failures };
}
