// The real lameduck controller (`dist/lameduck.mjs run`, unchanged code) as a child process against
// the simulation's API server, with its webhook registered by URL as `manifests/base/webhook.yaml`
// registers it by Service: the controller writes the CA bundle (and the URL) into it on start.
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AdmissionregistrationV1Api, CoreV1Api, KubernetesObjectApi, type KubeConfig } from "@kubernetes/client-node";
import { statusCode } from "./api.ts";
import type { Children } from "./children.ts";
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
}

export interface RunningController {
  readonly oracleAddress: string;
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
  await admission.deleteMutatingWebhookConfiguration({ name: "lameduck" }).catch((err: unknown) => {
    if (statusCode(err) !== 404) throw err;
  });
  await objects.create(webhookConfiguration(webhookUrl));
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
  for (const namespace of options.hookImage === undefined ? options.appNamespaces : []) {
    await until(`the hook ConfigMap in namespace ${namespace}`, options.timeoutMs, () =>
      alive(async () => (await core.listNamespacedConfigMap({ namespace })).items.some((cm) => cm.metadata?.name?.startsWith("lameduck-hook-"))),
    );
  }
  return {
    oracleAddress,
    async errorLines() {
      const lines = (await readFile(options.logFile, "utf8")).split("\n").filter((l) => l.startsWith("{"));
      return lines.flatMap((line) => {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        return entry.level === "error" || entry.level === "fatal" ? [`${entry.msg ?? ""} ${line}`] : [];
      });
    },
    async stop() {
      children.signal(child, "SIGTERM");
      const timer = setTimeout(() => children.signal(child, "SIGKILL"), 5000);
      await children.exited(child);
      clearTimeout(timer);
      log.end();
      // Its URL is dead now: the next scenario on the same API server must not call it.
      await admission.deleteMutatingWebhookConfiguration({ name: "lameduck" }).catch((err: unknown) => {
        if (statusCode(err) !== 404) throw err;
      });
    },
  };
}
