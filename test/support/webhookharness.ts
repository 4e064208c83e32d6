// Test webhooks registered the way the admission tests need them: one MutatingWebhookConfiguration
// per webhook, scoped by namespaceSelector to the test's own namespace (safe on a shared real
// cluster), removed again by cleanup().
import { afterAll, afterEach, beforeAll } from "vitest";
import { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig, V1MutatingWebhook } from "@kubernetes/client-node";
import { createNamespace, deleteNamespace, startCluster } from "./cluster.ts";
import type { Cluster } from "./cluster.ts";
import { makeTestPki } from "./tls.ts";
import type { TestPki } from "./tls.ts";
import { startTestWebhook } from "./webhook.ts";
import type { Answer, Review, TestWebhook } from "./webhook.ts";

export interface WebhookHarness {
  webhook(handle: (r: Review) => Answer | Promise<Answer>): Promise<TestWebhook>;
  /** Registers one webhook for pod CREATEs in the namespace; `extra` overrides any field. */
  register(name: string, url: string, extra?: Partial<V1MutatingWebhook>): Promise<void>;
  cleanup(): Promise<void>;
}

export function makeWebhookHarness(kc: KubeConfig, pki: TestPki, namespace: string): WebhookHarness {
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const configs: string[] = [];
  const servers: TestWebhook[] = [];
  return {
    async webhook(handle) {
      const w = await startTestWebhook(pki, handle);
      servers.push(w);
      return w;
    },
    async register(name, url, extra = {}) {
      const config = `${name}-${namespace}`;
      await admission.createMutatingWebhookConfiguration({ body: { metadata: { name: config }, webhooks: [{
        name: `${name}.lameduck.test`, admissionReviewVersions: ["v1"], sideEffects: "None", failurePolicy: "Fail", timeoutSeconds: 5,
        clientConfig: { url, caBundle: pki.caBundle },
        rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
        ...extra,
      }] } });
      configs.push(config);
    },
    async cleanup() {
      for (const name of configs.splice(0)) await admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
      for (const w of servers.splice(0)) await w.close();
    },
  };
}

export interface AdmissionSuite {
  readonly cluster: Cluster;
  readonly core: CoreV1Api;
  readonly pki: TestPki;
  readonly ns: string;
  readonly webhook: WebhookHarness["webhook"];
  readonly register: WebhookHarness["register"];
}

/**
 * Registers the vitest hooks an admission test file needs (a cluster, a namespace, a test PKI,
 * webhooks cleaned up after each test) and returns accessors valid inside tests.
 */
export function admissionSuite(prefix: string): AdmissionSuite {
  let state: { cluster: Cluster; core: CoreV1Api; pki: TestPki; ns: string; hooks: WebhookHarness } | undefined;
  const ready = (): NonNullable<typeof state> => {
    if (state === undefined) throw new Error("admissionSuite: used outside a test");
    return state;
  };
  beforeAll(async () => {
    const cluster = await startCluster();
    const pki = await makeTestPki();
    const ns = await createNamespace(cluster.kc, prefix);
    state = { cluster, core: cluster.kc.makeApiClient(CoreV1Api), pki, ns, hooks: makeWebhookHarness(cluster.kc, pki, ns) };
  });
  afterEach(async () => {
    await state?.hooks.cleanup();
  });
  afterAll(async () => {
    if (state === undefined) return;
    await deleteNamespace(state.cluster.kc, state.ns);
    await state.cluster.close();
  });
  return {
    get cluster() { return ready().cluster; },
    get core() { return ready().core; },
    get pki() { return ready().pki; },
    get ns() { return ready().ns; },
    webhook: (handle) => ready().hooks.webhook(handle),
    register: (name, url, extra) => ready().hooks.register(name, url, extra),
  };
}
