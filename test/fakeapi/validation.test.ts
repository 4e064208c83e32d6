import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import type { V1Container, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import { createNamespace, deleteNamespace, startCluster } from "../support/cluster.ts";
import type { Cluster } from "../support/cluster.ts";
import { failureOf } from "../support/apierrors.ts";

let cluster: Cluster;
let core: CoreV1Api;
let ns: string;

beforeAll(async () => {
  cluster = await startCluster();
  core = cluster.kc.makeApiClient(CoreV1Api);
  ns = await createNamespace(cluster.kc, "fakeapi-valid");
});

afterAll(async () => {
  await deleteNamespace(cluster.kc, ns);
  await cluster.close();
});

const app: V1Container = { name: "app", image: "registry.example.invalid/app:1.0" };
const emptyDir = (name: string): V1Volume => ({ name, emptyDir: {} });

async function rejection(name: string, spec: Partial<V1PodSpec>): Promise<{ code: number; message: string; fields: string[] }> {
  const f = await failureOf(core.createNamespacedPod({ namespace: ns, body: { metadata: { name }, spec: { containers: [app], ...spec } } }));
  const causes = ((f.status["details"] as { causes?: { field: string }[] } | undefined)?.causes ?? []).map((c) => c.field);
  return { code: f.code, message: String(f.status["message"]), fields: causes };
}

it("a preStop sleep longer than the grace period is rejected with the real text", async () => {
  const r = await rejection("sleepy", { terminationGracePeriodSeconds: 30, containers: [{ ...app, lifecycle: { preStop: { sleep: { seconds: 31 } } } }] });
  expect(r.code).toBe(422);
  expect(r.message).toBe('Pod "sleepy" is invalid: spec.containers[0].lifecycle.preStop.sleep.seconds: Invalid value: 31: must be non-negative and less than terminationGracePeriodSeconds (30)');
});

it("a preStop sleep equal to the grace period, and a zero sleep, are accepted", async () => {
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: "sleep-equal" }, spec: { terminationGracePeriodSeconds: 30, containers: [{ ...app, lifecycle: { preStop: { sleep: { seconds: 30 } } } }] } } });
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: "sleep-zero" }, spec: { containers: [{ ...app, lifecycle: { preStop: { sleep: { seconds: 0 } } } }] } } });
});

it("duplicate volume names are rejected", async () => {
  const r = await rejection("dupvol", { volumes: [emptyDir("x"), emptyDir("x")] });
  expect(r.message).toBe('Pod "dupvol" is invalid: spec.volumes[1].name: Duplicate value: "x"');
});

it("a mount of a volume that does not exist is rejected", async () => {
  const r = await rejection("nomount", { containers: [{ ...app, volumeMounts: [{ name: "ghost", mountPath: "/ghost" }] }] });
  expect(r.message).toBe('Pod "nomount" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "ghost"');
});

it("two mounts at one path in a container are rejected", async () => {
  const r = await rejection("duppath", { volumes: [emptyDir("a"), emptyDir("b")], containers: [{ ...app, volumeMounts: [{ name: "a", mountPath: "/x" }, { name: "b", mountPath: "/x" }] }] });
  expect(r.message).toBe('Pod "duppath" is invalid: spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/x": must be unique');
});

it("a lifecycle handler needs exactly one handler type", async () => {
  const none = await rejection("nohandler", { containers: [{ ...app, lifecycle: { preStop: {} } }] });
  expect(none.message).toBe('Pod "nohandler" is invalid: spec.containers[0].lifecycle.preStop: Required value: must specify a handler type');
  const two = await rejection("twohandlers", { containers: [{ ...app, lifecycle: { preStop: { exec: { command: ["/x"] }, sleep: { seconds: 1 } } } }] });
  expect(two.message).toBe('Pod "twohandlers" is invalid: spec.containers[0].lifecycle.preStop.sleep: Forbidden: may not specify more than 1 handler type');
});

it("a projected item mode outside 0..0777 is rejected", async () => {
  const r = await rejection("mode", { volumes: [{ name: "p", projected: { sources: [{ configMap: { name: "c", items: [{ key: "k", path: "p", mode: 512 }] } }] } }] });
  expect(r.fields).toEqual(["spec.volumes[0].projected.sources[0].configMap.items[0].mode"]);
  expect(r.message).toContain("Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive");
});

it("a negative grace period is rejected, and several errors are listed together", async () => {
  const r = await rejection("negative", { terminationGracePeriodSeconds: -1, volumes: [emptyDir("x"), emptyDir("x")] });
  expect(r.message).toBe('Pod "negative" is invalid: [spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0, spec.volumes[1].name: Duplicate value: "x"]');
});

describe("Pod Security admission", () => {
  it("a baseline namespace forbids hostPath volumes and probe or lifecycle hosts, judging the pod as admitted", async () => {
    const baselineNs = await createNamespace(cluster.kc, "fakeapi-psa-baseline", { "pod-security.kubernetes.io/enforce": "baseline" });
    try {
      const f = await failureOf(core.createNamespacedPod({ namespace: baselineNs, body: { metadata: { name: "hostpath" }, spec: { containers: [app], volumes: [{ name: "h", hostPath: { path: "/" } }] } } }));
      expect(f.code).toBe(403);
      expect(f.status["message"]).toBe('pods "hostpath" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "h")');
      const g = await failureOf(core.createNamespacedPod({ namespace: baselineNs, body: { metadata: { name: "prestop-host" }, spec: { containers: [{ ...app, lifecycle: { preStop: { httpGet: { host: "10.96.40.7", port: 8080, path: "/drain" } } } }] } } }));
      expect(g.code).toBe(403);
      expect(g.status["message"]).toBe('pods "prestop-host" is forbidden: violates PodSecurity "baseline:latest": probe or lifecycle host (container "app" uses host "10.96.40.7")');
      await core.createNamespacedPod({ namespace: baselineNs, body: { metadata: { name: "projected" }, spec: { containers: [{ ...app, lifecycle: { preStop: { exec: { command: ["/.lameduck/hook", "wait"] } } } }], volumes: [{ name: "p", projected: { sources: [{ configMap: { name: "c", optional: true } }] } }] } } });
    } finally {
      await deleteNamespace(cluster.kc, baselineNs);
    }
  });

  it("a restricted namespace accepts a compliant pod with a projected volume and lists what a non-compliant one misses", async () => {
    const restrictedNs = await createNamespace(cluster.kc, "fakeapi-psa-restricted", { "pod-security.kubernetes.io/enforce": "restricted" });
    try {
      const secure: V1Container = { ...app, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } } };
      await core.createNamespacedPod({ namespace: restrictedNs, body: { metadata: { name: "ok" }, spec: { containers: [secure], volumes: [{ name: "p", projected: { sources: [{ configMap: { name: "c", optional: true } }] } }] } } });
      const f = await failureOf(core.createNamespacedPod({ namespace: restrictedNs, body: { metadata: { name: "loose" }, spec: { containers: [app] } } }));
      expect(f.code).toBe(403);
      expect(f.status["message"]).toBe('pods "loose" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")');
    } finally {
      await deleteNamespace(cluster.kc, restrictedNs);
    }
  });
});
