// What policy mode costs per pod creation, measured where it can be here: the generated
// MutatingAdmissionPolicy evaluated by the fake API server's evaluator (@bufbuild/cel: match
// conditions, variables, the JSON Patch expression, and applying the patch), against the webhook's
// own in-process mutation (decide, apply, diff, guard) of the same pod as the baseline. A real
// kube-apiserver evaluates with cel-go, compiled once per policy; neither figure includes an HTTP
// round trip, which is what the webhook adds on top and the policy does not.
import { mutatePod } from "../../injector/mutation/mutate.ts";
import { injectionPolicy } from "../../injector/policy/generate.ts";
import { applyPolicyPatch, policyPatch } from "../fakeapi/mutating-policy.ts";
import { Res } from "../fakeapi/resources.ts";
import { defaultStaticFacts, testFacts, testPolicy } from "../support/admission.ts";
import type { BenchReport } from "./report.ts";

function pod(containers: number): Record<string, unknown> {
  return {
    apiVersion: "v1", kind: "Pod", metadata: { generateName: "web-", namespace: "shop", labels: { app: "web" } },
    spec: { terminationGracePeriodSeconds: 30, containers: Array.from({ length: containers }, (_, i) => ({ name: `c${String(i)}`, image: "registry.example/web:1", volumeMounts: [{ name: "data", mountPath: `/data/${String(i)}` }] })), volumes: [{ name: "data", emptyDir: {} }] },
  };
}

function perCall(fn: () => void, minMs = 1500): number {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    fn();
    n++;
  }
  return ((performance.now() - start) * 1000) / n;
}

export async function run(report: BenchReport): Promise<void> {
  const policy = testPolicy();
  const facts = testFacts();
  const { policy: map, binding } = injectionPolicy(policy, { oracleAddress: defaultStaticFacts.oracleAddress, architectures: ["amd64"], hookHash: defaultStaticFacts.hookHash });
  const image = injectionPolicy(testPolicy(["--hook-source=image", "--hook-image=registry.example/lameduck-hook:1"]), { oracleAddress: defaultStaticFacts.oracleAddress, architectures: ["amd64"], hookHash: defaultStaticFacts.hookHash });
  const namespaceObject = { metadata: { name: "shop", labels: { "kubernetes.io/metadata.name": "shop" } } };
  report.section("policy mode: evaluation per pod creation (fake's CEL evaluator)");
  for (const containers of [1, 10, 100]) {
    const p = pod(containers);
    const webhook = perCall(() => {
      const out = mutatePod(p, "shop", facts, policy);
      if (out.result !== "patched") throw new Error(`webhook did not patch: ${out.result}`);
    });
    const evaluated = perCall(() => {
      applyPolicyPatch(p, policyPatch(map, binding, { resource: Res.pods, object: p, namespaceObject, request: {} }));
    });
    report.row(`pod with ${String(containers)} container(s): policy`, Math.round(evaluated), "µs", { ratio: evaluated / webhook, baseline: "webhook mutation in-process" });
    report.row(`pod with ${String(containers)} container(s): webhook mutation`, Math.round(webhook * 10) / 10, "µs");
    // --hook-source=image: two volumes and two mounts per container instead of one of each.
    const withImage = perCall(() => {
      applyPolicyPatch(p, policyPatch(image.policy, image.binding, { resource: Res.pods, object: p, namespaceObject, request: {} }));
    });
    report.row(`pod with ${String(containers)} container(s): policy with the hook image`, Math.round(withImage), "µs", { ratio: withImage / evaluated, baseline: "policy with the hook ConfigMap" });
  }
  await Promise.resolve();
}
