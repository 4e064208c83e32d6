// Who injected the simulation's pods: the choice of injector for a scenario, the webhook's counters
// from its /metrics (what it answered, patched and found already injected), and the pods that carry
// no lameduck marker.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { metricSum } from "../support/metrics.ts";

/**
 * Who injects the lameduck strategies' pods: the webhook, the MutatingAdmissionPolicy from the start,
 * or the webhook until docs/operations.md's migration to the policy, begun before the first pods and
 * finished between the rollout's first two batches.
 */
export const Injection = { webhook: "webhook", policy: "policy", migrate: "webhook, then policy" } as const;
export type Injection = (typeof Injection)[keyof typeof Injection];

/** The webhook's counters (docs/operations.md, "Metrics"), summed over their labels. */
export interface WebhookCounts {
  /** lameduck_admission_reviews_total: AdmissionReviews answered. */
  readonly reviews: number;
  /** lameduck_injections_total: pods the webhook patched. */
  readonly injected: number;
  /** lameduck_admission_skips_total{reason="already-injected"}: pods someone had injected before it. */
  readonly alreadyInjected: number;
}

export function webhookCounts(exposition: string): WebhookCounts {
  return {
    reviews: metricSum(exposition, "lameduck_admission_reviews_total"),
    injected: metricSum(exposition, "lameduck_injections_total"),
    alreadyInjected: metricSum(exposition, 'lameduck_admission_skips_total{reason="already-injected"}'),
  };
}

/** The marker the webhook and the policy both write on a pod they inject (docs/operations.md). */
const injectedAnnotation = "lameduck.dev/injected";

/** The namespace's pods that carry no marker: created without lameduck's preStop. */
export async function podsWithoutMarker(kc: KubeConfig, namespace: string): Promise<string[]> {
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace });
  return pods.items.filter((p) => p.metadata?.annotations?.[injectedAnnotation] === undefined).map((p) => p.metadata?.name ?? "");
}
