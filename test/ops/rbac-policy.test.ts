// Policy mode's RBAC (manifests/overlays/policy), against what the controller does in it: run with the
// overlay's flags plus --injector=policy behind the recording proxy, the controller fills the overlay's
// placeholder policy in; every request it makes must be allowed by the overlay's rendered Roles, and
// the overlay's own grant (update on the one policy) must be what it used. rbac-coverage.test.ts does
// the same for the base install over a day in a cluster's life.
import { setTimeout as sleep } from "node:timers/promises";
import { KubernetesObjectApi } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunConfig } from "../../injector/config.ts";
import { silentLogger } from "../../injector/log.ts";
import { specDigestAnnotation } from "../../injector/policy/keeper.ts";
import { startController } from "../../injector/run.ts";
import { eventually, fakeHookDir } from "../controllers/harness.ts";
import { startFakeApi, type FakeApi } from "../fakeapi/index.ts";
import { applyInstall } from "./install.ts";
import { describeGrant, grantsOf, grantUsedBy, makeRbac, type ResourceRequest } from "./rbac.ts";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy.ts";
import { find, render, type K8sObject } from "./render.ts";
import { resourceRequests as resourceRequestsOf } from "./requestinfo.ts";

const namespace = "lameduck-system";
const serviceAccount = { namespace, name: "lameduck" };

let api: FakeApi;
let proxy: RecordingProxy;
let rendered: K8sObject[];

beforeAll(async () => {
  rendered = await render("manifests/overlays/policy");
  api = await startFakeApi();
  proxy = await startRecordingProxy(api.url);
  await applyInstall(api.kubeConfig(), rendered);
  // What the overlay adds: the placeholder policy and its binding (applyInstall creates the base's objects).
  const objects = KubernetesObjectApi.makeApiClient(api.kubeConfig());
  for (const o of rendered.filter((x) => x.kind.startsWith("MutatingAdmissionPolicy"))) await objects.create(o);
  const deployment = find(rendered, "Deployment", "lameduck") as { spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } };
  const args = deployment.spec?.template?.spec?.containers?.[0]?.args ?? [];
  const hookDir = fakeHookDir("rbac-policy");
  const config = parseRunConfig([...args, "--injector=policy", "--bind-address=127.0.0.1", `--hook-dir=${hookDir}`], { POD_NAMESPACE: namespace }, hookDir);
  const controller = await startController({ ...config, webhookPort: 0, oraclePort: 0, metricsPort: 0 }, {
    kc: proxy.kubeConfig(),
    logger: silentLogger,
    registry: new Registry(),
    instance: "rbac-policy-test",
    informerDelay: (ms) => sleep(Math.min(ms, 50)),
    gcRetryMs: 200,
    resyncMs: 60_000,
  });
  try {
    await eventually("the policy filled in", async () => {
      const policy = await objects.read({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingAdmissionPolicy", metadata: { name: "lameduck" } });
      return policy.metadata?.annotations?.[specDigestAnnotation] !== undefined;
    }, 20_000);
  } finally {
    await controller.stop();
  }
}, 60_000);

afterAll(async () => {
  await proxy.close();
  await api.close();
});

describe("manifests/overlays/policy's RBAC, against what the controller does in policy mode", () => {
  const requests = (): { request: ResourceRequest; line: string }[] => resourceRequestsOf(proxy.requests);

  it("allows every request the controller made, the policy's update among them", () => {
    const rbac = makeRbac(rendered);
    expect(requests().map((r) => `${r.request.verb} ${r.request.resource}/${r.request.name ?? ""}`)).toContain("update mutatingadmissionpolicies/lameduck");
    expect([...new Set(requests().filter((r) => !rbac.allows(serviceAccount, r.request)).map((r) => r.line))]).toEqual([]);
  });

  it("uses every grant the overlay adds", () => {
    const rbac = makeRbac(rendered);
    const used = requests().map((r) => r.request);
    const added = rbac.rulesOf(serviceAccount).filter((rule) => rule.role === "ClusterRole/lameduck-policy").flatMap(grantsOf);
    expect(added.map(describeGrant)).not.toEqual([]);
    expect(added.filter((g) => !used.some((r) => grantUsedBy(g, r))).map(describeGrant)).toEqual([]);
  });
});
