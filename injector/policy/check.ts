// `lameduck check`'s line on the injector: which one the controller uses and why (mode.ts's rule,
// from discovery, the policy's presence and the Deployment's --injector), and a reminder when policy
// mode runs with the webhook still registered in the pod's path. The reminder waits until the
// controller has filled the policy in: the overlay's placeholder injects nothing, so unregistering
// the webhook before then would let pods through without their hook. Judged by the spec itself,
// not the digest annotation, which survives the overlay being applied again.
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import { Injector } from "../config.ts";
import { fail, pass, warn, type Finding } from "../ops/report.ts";
import { kubePolicyStore, type PolicyStore } from "./keeper.ts";
import { chooseInjector, servesMutatingPolicies } from "./mode.ts";

const area = "injector";

function injectorFlag(deployment: V1Deployment | undefined): Injector | undefined {
  const args = deployment?.spec?.template.spec?.containers[0]?.args ?? [];
  const value = args.map((a) => /^--injector=(.*)$/.exec(a)?.[1]).find((v) => v !== undefined);
  return value === Injector.webhook || value === Injector.policy ? value : undefined;
}

/**
 * Whether the policy's mutations are all the overlay's empty patch: so it is until the controller
 * fills it in, and again after the overlay is applied anew, until the controller's next resync.
 */
function placeholder(spec: unknown): boolean {
  const mutations = typeof spec === "object" && spec !== null && "mutations" in spec && Array.isArray(spec.mutations) ? (spec.mutations as unknown[]) : [];
  return mutations.every((m) => {
    const expression = typeof m === "object" && m !== null && "jsonPatch" in m && typeof m.jsonPatch === "object" && m.jsonPatch !== null && "expression" in m.jsonPatch ? m.jsonPatch.expression : undefined;
    return typeof expression === "string" && expression.trim() === "[]";
  });
}

export async function judgeInjector(kc: KubeConfig, deployment: V1Deployment | undefined, webhookRegistered: boolean): Promise<Finding[]> {
  let served: boolean;
  let policy: Awaited<ReturnType<PolicyStore["read"]>>;
  try {
    served = await servesMutatingPolicies(kc);
    policy = served ? await kubePolicyStore(kc).read() : undefined;
  } catch (err) {
    return [warn(area, `could not tell webhook from policy mode (${err instanceof Error ? err.message : String(err)})`)];
  }
  const choice = chooseInjector(injectorFlag(deployment), served, policy !== undefined);
  const findings = [pass(area, `${choice.injector}: ${choice.why}`)];
  if (choice.injector !== Injector.policy) return findings;
  if (policy === undefined || placeholder(policy.spec)) {
    const placeholder = "MutatingAdmissionPolicy lameduck is still the placeholder of manifests/overlays/policy (its mutation is the empty patch) and injects nothing";
    findings.push(
      webhookRegistered
        ? warn(area, `${placeholder}: the controller fills it in within its resync (30 s); keep the webhook registered until then`)
        : fail(area, `${placeholder}, and the webhook is not registered: pods are created without lameduck's preStop until the controller fills it in (is the controller running? it logs "MutatingAdmissionPolicy updated" when it has)`),
    );
  } else if (webhookRegistered) {
    findings.push(warn(area, "the webhook is still registered and stays in the pod's path (harmlessly); delete the MutatingWebhookConfiguration to finish the migration"));
  }
  return findings;
}
