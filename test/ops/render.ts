// Renders the kustomizations under manifests/ with kubectl's built-in kustomize, as `kubectl apply -k`
// would, and finds the rendered objects tests ask about.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

const run = promisify(execFile);
export const repoRoot = join(import.meta.dirname, "..", "..");
export const manifestsDir = join(repoRoot, "manifests");

/** build/setup.sh installs Debian's kubernetes-client when no kubectl is on PATH. */
export function kubectlPath(): string {
  return existsSync("/usr/bin/kubectl") ? "/usr/bin/kubectl" : "kubectl";
}

export type K8sObject = Readonly<Record<string, unknown>> & { readonly kind: string; readonly metadata: { readonly name: string; readonly namespace?: string } };

function isK8sObject(v: unknown): v is K8sObject {
  if (typeof v !== "object" || v === null || !("kind" in v) || !("metadata" in v)) return false;
  const { kind, metadata } = v;
  return typeof kind === "string" && typeof metadata === "object" && metadata !== null && "name" in metadata && typeof metadata.name === "string";
}

/** Every directory under manifests/ holding a kustomization.yaml, relative to the repository. */
export function kustomizations(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    if (existsSync(join(dir, "kustomization.yaml"))) found.push(relative(repoRoot, dir));
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
    }
  };
  walk(manifestsDir);
  return found.sort();
}

export async function render(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run(kubectlPath(), ["kustomize", join(repoRoot, dir)], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(stdout)) {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value: unknown = doc.toJS();
    if (value === null) continue;
    if (!isK8sObject(value)) throw new Error(`kubectl kustomize ${dir}: a document is not a Kubernetes object`);
    objects.push(value);
  }
  return objects;
}

export function find(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const matches = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  const [only] = matches;
  if (matches.length !== 1 || only === undefined) throw new Error(`expected one ${kind}${name === undefined ? "" : ` ${name}`}, rendered ${matches.length}`);
  return only;
}

/**
 * The pod the Deployment's template makes, named lameduck-0: what the API server admits into the
 * controller's namespace (which enforces Pod Security `restricted`).
 */
export function controllerPod(objects: readonly K8sObject[]): V1Pod {
  const deployment: V1Deployment = find(objects, "Deployment", "lameduck");
  const template = deployment.spec?.template;
  return { apiVersion: "v1", kind: "Pod", metadata: { ...template?.metadata, name: "lameduck-0" }, spec: template?.spec ?? { containers: [] } };
}
