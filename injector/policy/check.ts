// `lameduck check`'s line on the injector: which one the controller uses and why (mode.ts's rule,
// from discovery, the policy's presence and the Deployment's --injector), and a reminder when policy
// mode runs with the webhook still registered in the pod's path. The reminder waits until the
// controller has filled the policy in: the overlay's placeholder injects nothing, so unregistering
// the webhook before then would let pods through without their hook.
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import { Injector } from "../config.ts";
import { fail, pass, warn, type Finding } from "../ops/report.ts";
import { kubePolicyStore, specDigestAnnotation, type PolicyStore } from "./keeper.ts";
import { chooseInjector, servesMutatingPolicies } from "./mode.ts";

const area = "injector";

function injectorFlag(deployment: V1Deployment | undefined): Injector | undefined {
  const args = deployment?.spec?.template.spec?.containers[0]?.args ?? [];
  const value = args.map((a) => /^--injector=(.*)$/.exec(a)?.[1]).find((v) => v !== undefined);
  return value === Injector.webhook || value === Injector.policy ? value : undefined;
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
  if (policy?.digest === undefined) {
    const placeholder = `MutatingAdmissionPolicy lameduck is still the placeholder of manifests/overlays/policy (no ${specDigestAnnotation}) and injects nothing`;
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
