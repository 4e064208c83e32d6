// The real lameduck controller (`dist/lameduck.mjs run`, unchanged code) as a child process against
// the simulation's API server, with its webhook registered by URL as `manifests/base/webhook.yaml`
// registers it by Service: the controller writes the CA bundle (and the URL) into it on start. In
// policy mode it is installed as manifests/overlays/policy installs it (policy.ts) and the webhook
// registration is deleted once `lameduck check` says so, as docs/operations.md's migration says; or
// the same migration is run later, while the simulation runs.
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AdmissionregistrationV1Api, CoreV1Api, KubernetesObjectApi, type KubeConfig } from "@kubernetes/client-node";
import { statusCode } from "./api.ts";
import type { Children } from "./children.ts";
import { Injection, webhookCounts, type WebhookCounts } from "./injection.ts";
import { applyPolicyOverlay, checkSaysUnregister, deletePolicyOverlay, deleteWebhookRegistration } from "./policy.ts";
import { reservePort } from "./ports.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
export const bundlePath = join(root, "dist", "lameduck.mjs");
export const hookDir = join(root, "dist");

export interface ControllerOptions {
  readonly kc: KubeConfig;
  readonly kubeconfigPath: string;
  readonly children: Children;
  readonly logFile: string;
  /** Namespaces whose hook ConfigMap must exist before pods are created there. */
  readonly appNamespaces: readonly string[];
  readonly timeoutMs: number;
  /** --hook-source=image with this --hook-image: pods mount it, and no namespace gets a ConfigMap. */
  readonly hookImage?: string;
  /**
   * Who injects pods from the start: the policy with the webhook unregistered, or else the webhook
   * (for the migration too, whose steps are RunningController's methods below).
   */
  readonly injector?: Injection;
}

export interface RunningController {
  readonly oracleAddress: string;
  /**
   * The migration's first step (docs/operations.md), once the controller has made its first choice
   * of injector (the webhook): the overlay's placeholder policy and binding, which inject nothing
   * until the controller fills the policy in at its next resync.
   */
  applyPolicyOverlay(): Promise<void>;
  /** Resolves once `lameduck check` says to delete the webhook registration: the controller has filled the policy in. */
  migrationChecked(): Promise<void>;
  /** The migration's second step: the webhook registration deleted. */
  unregisterWebhook(): Promise<void>;
  /** The webhook's counters so far, from its /metrics. */
  webhookCounts(): Promise<WebhookCounts>;
  /** The lines the controller has logged so far at level error or fatal, each as "msg {line}". */
  errorLines(): Promise<readonly string[]>;
  stop(): Promise<void>;
}

const systemNamespace = "lameduck-system";
const pollMs = 100;

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`lameduck controller: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

function webhookConfiguration(url: string): Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } } {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: "lameduck" },
    webhooks: [
      {
        name: "pods.lameduck.dev",
        admissionReviewVersions: ["v1"],
        clientConfig: { url },
        rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"], scope: "Namespaced" }],
        failurePolicy: "Ignore",
        matchPolicy: "Equivalent",
        timeoutSeconds: 5,
        sideEffects: "None",
        reinvocationPolicy: "IfNeeded",
        namespaceSelector: {
          matchExpressions: [
            { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", "kube-node-lease", systemNamespace] },
            { key: "lameduck.dev/inject", operator: "NotIn", values: ["false"] },
          ],
        },
      },
    ],
  };
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { kc, children } = options;
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  // The controller binds its ports itself: reserved, not held (ports.ts).
  const [webhookPort, oraclePort, metricsPort] = [await reservePort("127.0.0.1"), await reservePort("127.0.0.1"), await reservePort("127.0.0.1")];
  const webhookUrl = `https://127.0.0.1:${String(webhookPort)}/mutate`;
  const oracleAddress = `127.0.0.1:${String(oraclePort)}`;
  // On an API server that outlives scenarios (a kubeconfig's) both may be there from the last one.
  await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: systemNamespace } }).catch((err: unknown) => {
    if (statusCode(err) !== 409) throw err;
  });
  await deleteWebhookRegistration(kc);
  await objects.create(webhookConfiguration(webhookUrl));
  const policy = options.injector === Injection.policy;
  // Applied before the controller starts, as `kubectl apply -k manifests/overlays/policy` does on a
  // fresh install: its first look finds the policy. Otherwise a policy a killed run left is removed.
  await (policy ? applyPolicyOverlay(kc) : deletePolicyOverlay(kc));
  const log = createWriteStream(options.logFile);
  const child = children.spawn(
    process.execPath,
    [
      bundlePath,
      "run",
      `--kubeconfig=${options.kubeconfigPath}`,
      `--namespace=${systemNamespace}`,
      "--bind-address=127.0.0.1",
      `--webhook-port=${String(webhookPort)}`,
      `--oracle-port=${String(oraclePort)}`,
      `--metrics-port=${String(metricsPort)}`,
      `--oracle-address=${oracleAddress}`,
      `--webhook-url=${webhookUrl}`,
      `--hook-dir=${hookDir}`,
      // The simulation stops the controller only as teardown, with nothing routed to it: no delay.
      "--shutdown-delay=0",
      "--log-level=info",
      ...(options.hookImage === undefined ? [] : ["--hook-source=image", `--hook-image=${options.hookImage}`]),
      ...(policy ? ["--injector=policy"] : []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited = false;
  void children.exited(child).then(() => (exited = true));
  const alive = async (check: () => Promise<boolean>): Promise<boolean> => {
    if (exited) throw new Error(`lameduck controller exited early; see ${options.logFile}`);
    return check();
  };
  await until("/readyz", options.timeoutMs, () =>
    alive(async () => (await fetch(`http://127.0.0.1:${String(metricsPort)}/readyz`)).ok),
  );
  await until("the CA bundle in the MutatingWebhookConfiguration", options.timeoutMs, () =>
    alive(async () => {
      const mwc = await admission.readMutatingWebhookConfiguration({ name: "lameduck" });
      return (mwc.webhooks ?? []).every((w) => (w.clientConfig.caBundle ?? "") !== "");
    }),
  );
  const checked = (): Promise<void> =>
    until(`lameduck check to say the MutatingAdmissionPolicy is filled in (the controller's log: ${options.logFile})`, options.timeoutMs, () => alive(() => checkSaysUnregister(kc)));
  if (policy) {
    await checked();
    await deleteWebhookRegistration(kc);
  }
  for (const namespace of options.hookImage === undefined ? options.appNamespaces : []) {
    await until(`the hook ConfigMap in namespace ${namespace}`, options.timeoutMs, () =>
      alive(async () => (await core.listNamespacedConfigMap({ namespace })).items.some((cm) => cm.metadata?.name?.startsWith("lameduck-hook-"))),
    );
  }
  const logEntries = async (): Promise<{ readonly line: string; readonly level?: string; readonly msg?: string }[]> => {
    // Whole lines only: the last one may be half written.
    const lines = (await readFile(options.logFile, "utf8")).split("\n").slice(0, -1).filter((l) => l.startsWith("{"));
    return lines.map((line) => ({ line, ...(JSON.parse(line) as { level?: string; msg?: string }) }));
  };
  return {
    oracleAddress,
    async applyPolicyOverlay() {
      // Applied before that, the overlay would be found at once and the placeholder never seen.
      await until('the controller to log "injector chosen"', options.timeoutMs, () => alive(async () => (await logEntries()).some((e) => e.msg === "injector chosen")));
      await applyPolicyOverlay(kc);
    },
    migrationChecked: checked,
    unregisterWebhook: () => deleteWebhookRegistration(kc),
    async webhookCounts() {
      return webhookCounts(await (await fetch(`http://127.0.0.1:${String(metricsPort)}/metrics`)).text());
    },
    async errorLines() {
      return (await logEntries()).flatMap((e) => (e.level === "error" || e.level === "fatal" ? [`${e.msg ?? ""} ${e.line}`] : []));
    },
    async stop() {
      children.signal(child, "SIGTERM");
      const timer = setTimeout(() => children.signal(child, "SIGKILL"), 5000);
      await children.exited(child);
      clearTimeout(timer);
      log.end();
      // Its URL and the policy's oracle address are dead now: the next scenario on the same API
      // server must not call the one nor be injected by the other.
      await deleteWebhookRegistration(kc);
      await deletePolicyOverlay(kc);
    },
  };
}
