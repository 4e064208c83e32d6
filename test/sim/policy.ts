// Policy mode as an operator installs it (docs/operations.md, "Webhook or policy"): the objects
// manifests/overlays/policy adds to the base, read from the overlay's own files, so the simulation
// runs what `kubectl apply -k manifests/overlays/policy` applies. The overlay's RBAC is not applied:
// the simulated controller acts with the kubeconfig's credentials, not as the lameduck
// ServiceAccount, and the in-repo API server authorizes nothing, so those objects would change
// nothing here (test/ops/manifests.test.ts checks them).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AdmissionregistrationV1Api, KubernetesObjectApi, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { parse, parseAllDocuments } from "yaml";
import { judgeInjector } from "../../injector/policy/check.ts";
import { ignoreNotFound, statusCode } from "./api.ts";

const overlayDir = fileURLToPath(new URL("../../manifests/overlays/policy/", import.meta.url));
const policyName = "lameduck";
const webhookConfigName = "lameduck";
const admissionKinds = new Set(["MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"]);
const authorizationKinds = new Set(["ClusterRole", "ClusterRoleBinding"]);

type Manifest = KubernetesObject & { readonly kind: string; readonly metadata: { readonly name: string } };

function isManifest(v: unknown): v is Manifest {
  if (typeof v !== "object" || v === null || !("kind" in v) || !("metadata" in v)) return false;
  const { kind, metadata } = v;
  return typeof kind === "string" && typeof metadata === "object" && metadata !== null && "name" in metadata && typeof metadata.name === "string";
}

/**
 * The placeholder MutatingAdmissionPolicy and its binding, from the files the overlay lists beside
 * its base. A kind the simulation does not know stops it: the overlay changed and so must this.
 */
export function policyOverlayObjects(dir = overlayDir): Manifest[] {
  const kustomization: unknown = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8"));
  const resources = typeof kustomization === "object" && kustomization !== null && "resources" in kustomization && Array.isArray(kustomization.resources) ? kustomization.resources : [];
  const out: Manifest[] = [];
  for (const file of resources.map(String)) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
      const value: unknown = doc.toJS();
      if (!isManifest(value)) throw new Error(`${join(dir, file)}: a document is not a Kubernetes object`);
      if (admissionKinds.has(value.kind)) out.push(value);
      else if (!authorizationKinds.has(value.kind)) throw new Error(`${join(dir, file)}: ${value.kind} ${value.metadata.name}: the simulation does not know how to install it`);
    }
  }
  return out;
}

/** Removes the policy and its binding, as `lameduck uninstall` does (also what a killed run left). */
export async function deletePolicyOverlay(kc: KubeConfig): Promise<void> {
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  await ignoreNotFound(admission.deleteMutatingAdmissionPolicyBinding({ name: policyName }));
  await ignoreNotFound(admission.deleteMutatingAdmissionPolicy({ name: policyName }));
}

/** `kubectl apply -k manifests/overlays/policy`, its admission objects: the placeholder and the binding. */
export async function applyPolicyOverlay(kc: KubeConfig): Promise<void> {
  await deletePolicyOverlay(kc);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  for (const o of policyOverlayObjects()) {
    await objects.create(o).catch((err: unknown) => {
      if (statusCode(err) !== 404) throw err;
      throw new Error(`creating ${o.kind} ${o.metadata.name}: the API server does not serve it; policy mode needs admissionregistration.k8s.io/v1 mutatingadmissionpolicies (Kubernetes 1.36+)`, { cause: err });
    });
  }
}

/**
 * What the operator waits for between the migration's two steps: `lameduck check` telling to delete
 * the webhook registration, which it does once the controller has filled the policy in (its
 * injector findings, injector/policy/check.ts, asked in process rather than through the CLI's
 * whole report).
 */
export async function checkSaysUnregister(kc: KubeConfig): Promise<boolean> {
  const findings = await judgeInjector(kc, undefined, true);
  return findings.some((f) => f.message.includes("delete the MutatingWebhookConfiguration to finish the migration"));
}

/** The migration's second step: `kubectl delete mutatingwebhookconfiguration lameduck`. */
export async function deleteWebhookRegistration(kc: KubeConfig): Promise<void> {
  await ignoreNotFound(kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: webhookConfigName }));
}
