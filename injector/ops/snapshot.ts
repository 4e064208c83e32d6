// Everything `lameduck check` judges, read from the cluster once. The judging is pure (check.ts), so
// tests hand it snapshots; reads that fail are kept as messages and reported as warnings.
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  VersionApi,
  type KubeConfig,
  type V1ConfigMap,
  type V1Deployment,
  type V1EndpointSlice,
  type V1MutatingWebhookConfiguration,
  type V1Namespace,
  type V1Node,
  type V1Secret,
  type V1Service,
} from "@kubernetes/client-node";
import { Label, managedByValue } from "../names.ts";
import { attempt, type Read } from "./kube.ts";

export interface InstallNames {
  /** Namespace the controller runs in. */
  readonly namespace: string;
  readonly deployment: string;
  readonly webhookConfig: string;
  readonly webhookService: string;
  readonly oracleService: string;
  readonly tlsSecret: string;
}

export const defaultInstallNames: InstallNames = Object.freeze({
  namespace: "lameduck-system",
  deployment: "lameduck",
  webhookConfig: "lameduck",
  webhookService: "lameduck-webhook",
  oracleService: "lameduck-oracle",
  tlsSecret: "lameduck-webhook-tls",
});

export interface ClusterSnapshot {
  readonly version: Read<{ readonly gitVersion: string }>;
  readonly nodes: Read<readonly V1Node[]>;
  readonly namespaces: Read<readonly V1Namespace[]>;
  readonly webhookConfigs: Read<readonly V1MutatingWebhookConfiguration[]>;
  readonly tlsSecret: Read<V1Secret>;
  readonly webhookService: Read<V1Service>;
  readonly oracleService: Read<V1Service>;
  readonly webhookSlices: Read<readonly V1EndpointSlice[]>;
  readonly deployment: Read<V1Deployment>;
  readonly configMaps: Read<readonly V1ConfigMap[]>;
}

export const managedConfigMapSelector = `${Label.managedBy}=${managedByValue}`;

export async function readSnapshot(kc: KubeConfig, names: InstallNames): Promise<ClusterSnapshot> {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const version = kc.makeApiClient(VersionApi);
  const { namespace } = names;
  const [v, nodes, namespaces, webhookConfigs, tlsSecret, webhookService, oracleService, webhookSlices, deployment, configMaps] = await Promise.all([
    attempt("read server version", async () => ({ gitVersion: (await version.getCode()).gitVersion })),
    attempt("list nodes", async () => (await core.listNode()).items),
    attempt("list namespaces", async () => (await core.listNamespace()).items),
    attempt("list MutatingWebhookConfigurations", async () => (await admission.listMutatingWebhookConfiguration()).items),
    attempt(`read Secret ${namespace}/${names.tlsSecret}`, () => core.readNamespacedSecret({ namespace, name: names.tlsSecret })),
    attempt(`read Service ${namespace}/${names.webhookService}`, () => core.readNamespacedService({ namespace, name: names.webhookService })),
    attempt(`read Service ${namespace}/${names.oracleService}`, () => core.readNamespacedService({ namespace, name: names.oracleService })),
    attempt(`list EndpointSlices of Service ${namespace}/${names.webhookService}`, async () =>
      (await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${names.webhookService}` })).items,
    ),
    attempt(`read Deployment ${namespace}/${names.deployment}`, () => apps.readNamespacedDeployment({ namespace, name: names.deployment })),
    attempt("list hook ConfigMaps", async () => (await core.listConfigMapForAllNamespaces({ labelSelector: managedConfigMapSelector })).items),
  ]);
  return { version: v, nodes, namespaces, webhookConfigs, tlsSecret, webhookService, oracleService, webhookSlices, deployment, configMaps };
}
