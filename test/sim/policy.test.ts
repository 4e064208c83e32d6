// The rollout simulation in policy mode (issue 15): the API server injects the pods through the
// MutatingAdmissionPolicy the controller keeps, with no webhook in their path; and the documented
// migration from the webhook, run under load. Which injector did the work is read from the
// webhook's own counters and the pods' marker.
import { afterAll, describe, expect, it } from "vitest";
import { makeChildren } from "./children.ts";
import { expectLameduckRollout } from "./expect-rollout.ts";
import { Injection } from "./injection.ts";
import { policyOverlayObjects } from "./policy.ts";
import { runScenario, Strategy } from "./scenario.ts";

const quick = { name: "test (50-100 ms)", minMs: 50, maxMs: 100 };
const children = makeChildren();

afterAll(() => {
  children.killAll();
});

describe("the rollout simulation in policy mode", () => {
  it("installs what manifests/overlays/policy adds for admission: the placeholder policy and its binding", () => {
    expect(policyOverlayObjects().map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["MutatingAdmissionPolicy/lameduck", "MutatingAdmissionPolicyBinding/lameduck"]);
  });

  it("with --injector=policy and the webhook unregistered, the API server injects every pod and the rollout loses nothing", async () => {
    const result = await runScenario(
      { strategy: Strategy.lameduck, injection: Injection.policy, profile: quick, replicas: 2, workerReplicas: 1, rps: 40, warmupMs: 500, tailMs: 500, seed: 3 },
      { children, progress: () => undefined },
    );
    expectLameduckRollout(result);
    // No AdmissionReview reached the webhook, yet every pod, old and new, has lameduck's preStop:
    // the old ones ran the hook (expectLameduckRollout), the new ones carry the marker.
    const none = { reviews: 0, injected: 0, alreadyInjected: 0 };
    expect(result.webhook).toEqual({ rolloutStart: none, unregistered: undefined, end: none });
    expect(result.uninjectedPods).toEqual([]);
    expect(children.size).toBe(0);
  }, 60_000);

  it("the documented migration, run under load and finished mid-rollout, loses nothing", async () => {
    const result = await runScenario(
      { strategy: Strategy.lameduck, injection: Injection.migrate, profile: quick, replicas: 2, workerReplicas: 1, rps: 40, warmupMs: 500, tailMs: 500, seed: 4 },
      { children, progress: () => undefined },
    );
    // The old pods, injected by the webhook while the placeholder policy was bound, drain fine
    // after the webhook is gone.
    expectLameduckRollout(result);
    const { rolloutStart, unregistered, end } = result.webhook ?? {};
    expect(rolloutStart).toEqual({ reviews: 3, injected: 3, alreadyInjected: 0 });
    // The first batch: the policy injected it, then the webhook found it injected and left it alone.
    const both = (unregistered?.reviews ?? 0) - (rolloutStart?.reviews ?? 0);
    expect(both).toBeGreaterThanOrEqual(1);
    expect(unregistered).toEqual({ reviews: (rolloutStart?.reviews ?? 0) + both, injected: 3, alreadyInjected: both });
    // The second batch, created with no webhook registered, was injected all the same: by the policy.
    expect(end).toEqual(unregistered);
    expect(result.uninjectedPods).toEqual([]);
    expect(children.size).toBe(0);
  }, 120_000);
});
