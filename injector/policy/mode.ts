// Which injector this cluster gets, and why: one pure rule for the controller and `lameduck check`.
// Policy mode needs the API to serve admissionregistration.k8s.io/v1 mutatingadmissionpolicies
// (GA in Kubernetes 1.36) and the lameduck policy to be installed (manifests/overlays/policy): the
// controller only updates it, it never creates admission policies.
import { AdmissionregistrationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { Injector } from "../config.ts";
import { policyName } from "./generate.ts";

export interface InjectorChoice {
  readonly injector: Injector;
  readonly why: string;
}

const resource = "admissionregistration.k8s.io/v1 mutatingadmissionpolicies";

export function chooseInjector(flag: Injector | undefined, served: boolean, installed: boolean): InjectorChoice {
  if (flag === Injector.webhook) return { injector: Injector.webhook, why: "--injector=webhook" };
  if (!served) {
    const why = `the API server does not serve ${resource} (Kubernetes 1.36+)`;
    return { injector: Injector.webhook, why: flag === Injector.policy ? `--injector=policy, but ${why}: the webhook injects` : why };
  }
  if (flag === Injector.policy) {
    return { injector: Injector.policy, why: installed ? "--injector=policy" : `--injector=policy, but MutatingAdmissionPolicy ${policyName} is not installed (manifests/overlays/policy): only the webhook injects, where it is registered` };
  }
  if (!installed) return { injector: Injector.webhook, why: `the API server serves ${resource}, but MutatingAdmissionPolicy ${policyName} is not installed (manifests/overlays/policy)` };
  return { injector: Injector.policy, why: `the API server serves ${resource} and MutatingAdmissionPolicy ${policyName} is installed` };
}

/** Discovery: does the API server serve mutating admission policies at v1? */
export async function servesMutatingPolicies(kc: KubeConfig): Promise<boolean> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const list = await api.getAPIResources();
  return list.resources.some((r) => r.name === "mutatingadmissionpolicies");
}
