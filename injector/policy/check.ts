// `lameduck check`'s line on the injector: which one the controller uses and why (mode.ts's rule,
// from discovery, the policy's presence and the Deployment's --injector), and a reminder when policy
// mode runs with the webhook still registered in the pod's path.
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import { Injector } from "../config.ts";
import { pass, warn, type Finding } from "../ops/report.ts";
import { kubePolicyStore } from "./keeper.ts";
import { chooseInjector, servesMutatingPolicies } from "./mode.ts";

const area = "injector";

function injectorFlag(deployment: V1Deployment | undefined): Injector | undefined {
  const args = deployment?.spec?.template.spec?.containers[0]?.args ?? [];
  const value = args.map((a) => /^--injector=(.*)$/.exec(a)?.[1]).find((v) => v !== undefined);
  return value === Injector.webhook || value === Injector.policy ? value : undefined;
}

export async function judgeInjector(kc: KubeConfig, deployment: V1Deployment | undefined, webhookRegistered: boolean): Promise<Finding[]> {
  let served: boolean;
  let installed: boolean;
  try {
    served = await servesMutatingPolicies(kc);
    installed = served && (await kubePolicyStore(kc).read()) !== undefined;
  } catch (err) {
    return [warn(area, `could not tell webhook from policy mode (${err instanceof Error ? err.message : String(err)})`)];
  }
  const choice = chooseInjector(injectorFlag(deployment), served, installed);
  const findings = [pass(area, `${choice.injector}: ${choice.why}`)];
  if (choice.injector === Injector.policy && webhookRegistered) {
    findings.push(warn(area, "the webhook is still registered and stays in the pod's path (harmlessly); delete the MutatingWebhookConfiguration to finish the migration"));
  }
  return findings;
}
