import { describe, expect, it } from "vitest";
import { decide, type Plan } from "../../injector/mutation/decide.ts";
import { GuardReason, guardPatch, podProblems } from "../../injector/mutation/guard.ts";
import { patchFor } from "../../injector/mutation/mutate.ts";
import type { Pod } from "../../injector/mutation/pod.ts";
import { makeTestReviewer, patchOf, podReview, testFacts, testPolicy } from "../support/admission.ts";

function basePod(): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "shop" },
    spec: {
      containers: [{ name: "app", volumeMounts: [{ name: "data", mountPath: "/data" }] }],
      volumes: [{ name: "data" }],
    },
  };
}

function goodPlan(pod: Pod = basePod()): Plan {
  const decision = decide(pod, "shop", testFacts(), testPolicy());
  if (!decision.inject) throw new Error(`expected a plan, got ${decision.reason}`);
  return decision.plan;
}

function volumeOf(plan: Plan): NonNullable<Plan["volume"]> {
  if (plan.volume === undefined) throw new Error("plan has no volume");
  return plan.volume;
}

function guardedReasons(plan: Plan, pod: Pod = basePod()): string[] {
  const outcome = patchFor(pod, plan);
  if (outcome.result !== "guarded") throw new Error(`expected the guard to withhold the patch, got ${outcome.result}`);
  return outcome.problems.map((p) => p.reason);
}

describe("the patch guard", () => {
  it("passes a plan decide() made", () => {
    expect(patchFor(basePod(), goodPlan()).result).toBe("patched");
  });

  it("withholds a native sleep longer than the grace period", () => {
    const plan: Plan = { ...goodPlan(), volume: undefined, hookLabel: undefined, preStop: { sleep: { seconds: 31 } }, gracePeriodSeconds: undefined };
    expect(guardedReasons(plan)).toEqual([GuardReason.sleepSeconds]);
  });

  it("withholds a negative sleep", () => {
    const plan: Plan = { ...goodPlan(), volume: undefined, preStop: { sleep: { seconds: -1 } } };
    expect(guardedReasons(plan)).toContain(GuardReason.sleepSeconds);
  });

  it("withholds a volume name that is not a DNS-1123 label", () => {
    const plan = goodPlan();
    expect(guardedReasons({ ...plan, volume: { ...volumeOf(plan), name: "Lameduck_Hook" } })).toContain(GuardReason.volumeName);
    expect(guardedReasons({ ...plan, volume: { ...volumeOf(plan), name: "x".repeat(64) } })).toContain(GuardReason.volumeName);
  });

  it("withholds a volume name the pod already uses", () => {
    const plan = goodPlan();
    expect(guardedReasons({ ...plan, volume: { ...volumeOf(plan), name: "data" } })).toContain(GuardReason.volumeName);
  });

  it("withholds a mount of a volume that does not exist", () => {
    const plan = goodPlan();
    expect(guardedReasons({ ...plan, volume: { ...volumeOf(plan), exists: true } })).toEqual([GuardReason.mount]);
  });

  it("withholds a mount path the container already uses", () => {
    const plan = goodPlan();
    expect(guardedReasons({ ...plan, volume: { ...volumeOf(plan), mountPath: "/data" } })).toEqual([GuardReason.mount]);
  });

  it("withholds a handler with two actions, or an exec without a command", () => {
    expect(guardedReasons({ ...goodPlan(), preStop: { exec: { command: ["/x"] }, sleep: { seconds: 1 } } })).toEqual([GuardReason.handler]);
    expect(guardedReasons({ ...goodPlan(), preStop: { exec: { command: [] } } })).toEqual([GuardReason.handler]);
    expect(guardedReasons({ ...goodPlan(), preStop: {} })).toEqual([GuardReason.handler]);
  });

  it("withholds a negative grace period", () => {
    expect(guardedReasons({ ...goodPlan(), gracePeriodSeconds: -1 })).toContain(GuardReason.gracePeriod);
  });

  it("withholds an invalid label value", () => {
    expect(guardedReasons({ ...goodPlan(), hookLabel: "not/valid" })).toEqual([GuardReason.label]);
    expect(guardedReasons({ ...goodPlan(), hookLabel: "a".repeat(64) })).toEqual([GuardReason.label]);
  });

  it("withholds a marker that takes the annotations past 256 KiB", () => {
    const pod = basePod();
    pod.metadata = { ...pod.metadata, annotations: { big: "x".repeat(256 * 1024 - 10) } };
    expect(guardedReasons(goodPlan(pod), pod)).toEqual([GuardReason.annotation]);
  });

  it("reports file modes outside 0..0777 and absolute item paths", () => {
    const pod = basePod();
    pod.spec = { ...pod.spec, volumes: [{ name: "data", projected: { sources: [{ configMap: { name: "x", items: [{ key: "k", path: "/abs", mode: 0o1000 }] } }] } }] };
    expect(podProblems(pod).map((p) => p.reason).sort()).toEqual([GuardReason.fileMode, GuardReason.volumeItem]);
  });

  it("withholds a patch that does not apply to the request object", () => {
    const result = guardPatch(basePod(), [{ op: "add", path: "/spec/volumes/7", value: { name: "x" } }]);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map((p) => p.reason)).toEqual([GuardReason.patchFailed]);
  });

  it("withholds a patch that changes the kind", () => {
    const result = guardPatch(basePod(), [{ op: "replace", path: "/kind", value: "Secret" }]);
    expect(result.ok).toBe(false);
  });

  it("does not blame lameduck for a problem the pod already had", () => {
    const pod = basePod();
    pod.spec = { ...pod.spec, containers: [{ name: "app", volumeMounts: [{ name: "data", mountPath: "/d" }, { name: "data", mountPath: "/d" }] }] };
    expect(podProblems(pod).map((p) => p.reason)).toEqual([GuardReason.mount]);
    expect(patchFor(pod, goodPlan(pod)).result).toBe("patched");
  });
});

describe("the reviewer with a withheld patch", () => {
  it("allows the pod with no patch, warns, and counts the rule", async () => {
    const pod = basePod();
    pod.metadata = { ...pod.metadata, annotations: { big: "x".repeat(256 * 1024 - 10) } };
    const { review, registry } = makeTestReviewer();
    const answer = review(podReview(pod, "shop"));
    expect(answer.status).toBe(200);
    if (answer.status !== 200) return;
    expect(patchOf(answer)).toEqual([]);
    expect(answer.review.response.allowed).toBe(true);
    expect(answer.review.response.warnings?.join("\n")).toContain("failed lameduck's own validation");
    expect(await registry.getSingleMetricAsString("lameduck_admission_patch_rejected_total")).toContain('reason="annotation"} 1');
    expect(await registry.getSingleMetricAsString("lameduck_admission_reviews_total")).toContain('result="guarded"} 1');
  });
});
