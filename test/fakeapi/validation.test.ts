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

it("a preStop sleep longer than the grace period is rejected with the real text, naming the sleep action", async () => {
  const r = await rejection("sleepy", { terminationGracePeriodSeconds: 30, containers: [{ ...app, lifecycle: { preStop: { sleep: { seconds: 31 } } } }] });
  expect(r.code).toBe(422);
  // Recorded from v1.36.2 (test/fixtures/real/suite-failures-v1.36.2.txt): the path ends at `sleep`, not `sleep.seconds`.
  expect(r.message).toBe('Pod "sleepy" is invalid: spec.containers[0].lifecycle.preStop.sleep: Invalid value: 31: must be non-negative and less than terminationGracePeriodSeconds (30)');
  expect(r.fields).toEqual(["spec.containers[0].lifecycle.preStop.sleep"]);
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

it("a negative grace period is not an error: only the other problems of the pod are reported", async () => {
  // Recorded from v1.36.2: ValidatePodSpec requires the field but has no lower bound (a negative
  // period is clamped to 1 only when the pod is deleted, and may later be updated to 1).
  const r = await rejection("negative", { terminationGracePeriodSeconds: -1, volumes: [emptyDir("x"), emptyDir("x")] });
  expect(r.message).toBe('Pod "negative" is invalid: spec.volumes[1].name: Duplicate value: "x"');
});

it("several errors are listed together, volumes before containers [source: ValidatePodSpec]", async () => {
  const r = await rejection("several", { volumes: [emptyDir("x"), emptyDir("x")], containers: [{ ...app, volumeMounts: [{ name: "ghost", mountPath: "/ghost" }] }] });
  expect(r.message).toBe('Pod "several" is invalid: [spec.volumes[1].name: Duplicate value: "x", spec.containers[0].volumeMounts[0].name: Not found: "ghost"]');
});

it("an init container may have a lifecycle only as a native sidecar [source: validateInitContainers]", async () => {
  const preStop = { preStop: { exec: { command: ["/bin/true"] } } };
  const r = await rejection("init-lifecycle", { initContainers: [{ ...app, name: "init", lifecycle: preStop }] });
  expect(r.message).toBe('Pod "init-lifecycle" is invalid: spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always');
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: "sidecar-lifecycle" }, spec: { containers: [app], initContainers: [{ ...app, name: "sidecar", restartPolicy: "Always", lifecycle: preStop }] } } });
});

it("a projected volume needs item keys and relative paths, and no path twice [source: validateProjectionSources]", async () => {
  const r = await rejection("projection", { volumes: [{ name: "p", projected: { sources: [
    { configMap: { name: "c", items: [{ key: "", path: "/abs" }] } },
    { configMap: { name: "d", items: [{ key: "k", path: "same" }] } },
    { downwardAPI: { items: [{ path: "same", fieldRef: { fieldPath: "metadata.uid" } }] } },
  ] } }] });
  expect(r.fields).toEqual(["spec.volumes[0].projected.sources[0].configMap.items[0].key", "spec.volumes[0].projected.sources[0].configMap.items[0].path", "spec.volumes[0].projected"]);
  expect(r.message).toContain('spec.volumes[0].projected.sources[0].configMap.items[0].path: Invalid value: "/abs": must be a relative path');
  expect(r.message).toContain('spec.volumes[0].projected: Invalid value: "same": conflicting duplicate paths');
});

it("a downward API item offers only the pod fields a volume may carry [source: validateDownwardAPIVolumeFile]", async () => {
  const r = await rejection("downward", { volumes: [{ name: "d", projected: { sources: [{ downwardAPI: { items: [{ path: "node", fieldRef: { fieldPath: "spec.nodeName" } }] } }] } }] });
  // The error names the source, not the item: the real validator passes the source's path down.
  expect(r.message).toBe('Pod "downward" is invalid: spec.volumes[0].projected.sources[0].downwardAPI.fieldRef.fieldPath: Unsupported value: "spec.nodeName": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"');
  // A path no pod field label converts from fails earlier, with the conversion's error.
  const unknown = await rejection("downward-unknown", { volumes: [{ name: "d", projected: { sources: [{ downwardAPI: { items: [{ path: "c", fieldRef: { fieldPath: "spec.containers" } }] } }] } }] });
  expect(unknown.message).toBe('Pod "downward-unknown" is invalid: spec.volumes[0].projected.sources[0].downwardAPI.fieldRef.fieldPath: Invalid value: "spec.containers": error converting fieldPath: field label not supported: spec.containers');
});

it("an image volume needs its reference and a known pull policy [source: validateImageVolumeSource]", async () => {
  const r = await rejection("imagevol", { volumes: [{ name: "a", image: {} }, { name: "b", image: { reference: "registry.example/hook:1", pullPolicy: "Sometimes" } }] });
  expect(r.fields).toEqual(["spec.volumes[0].image.reference", "spec.volumes[1].image.pullPolicy"]);
  expect(r.message).toContain('spec.volumes[1].image.pullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"');
});

it("the hook image's pod shape is accepted: an image volume, a downwardAPI volume, a preStop exec under the image's mount path", async () => {
  // As a real v1.36.2 server accepted it (issue 15): what --hook-source=image injects.
  const created = await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: "hookimage" }, spec: {
    containers: [{ ...app, lifecycle: { preStop: { exec: { command: ["/.lameduck/hook", "wait", "--oracle=10.96.40.7:8080", "--max=30s", "--podinfo=/.lameduck-podinfo"] } } },
      volumeMounts: [{ name: "lameduck", mountPath: "/.lameduck", readOnly: true }, { name: "lameduck-podinfo", mountPath: "/.lameduck-podinfo", readOnly: true }] }],
    volumes: [
      { name: "lameduck", image: { reference: "ghcr.io/lameduck-dev/lameduck-hook:0.1.0", pullPolicy: "IfNotPresent" } },
      { name: "lameduck-podinfo", downwardAPI: { items: [{ path: "pod/uid", fieldRef: { fieldPath: "metadata.uid" } }] } },
    ],
  } } });
  expect(created.spec?.volumes?.[0]?.image).toEqual({ reference: "ghcr.io/lameduck-dev/lameduck-hook:0.1.0", pullPolicy: "IfNotPresent" });
});

it("a volume with no source is defaulted to an emptyDir [source: SetDefaults_Volume]", async () => {
  const created = await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: "sourceless" }, spec: { containers: [app], volumes: [{ name: "scratch" }] } } });
  expect(created.spec?.volumes?.find((v) => v.name === "scratch")?.emptyDir).toEqual({});
});

it("label values are validated like any object's [source: ValidateObjectMeta]", async () => {
  const f = await failureOf(core.createNamespacedPod({ namespace: ns, body: { metadata: { name: "badlabel", labels: { "lameduck.dev/hook": "not a value" } }, spec: { containers: [app] } } }));
  expect(f.status["message"]).toBe('Pod "badlabel" is invalid: metadata.labels: Invalid value: "not a value": a valid label must be an empty string or consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyValue\',  or \'my_value\',  or \'12345\', regex used for validation is \'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\')');
});

it("an update may not change the grace period, except from a negative one to 1 [source: ValidatePodUpdate]", async () => {
  const created = await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: "regrace" }, spec: { containers: [app], terminationGracePeriodSeconds: -1 } } });
  const spec = created.spec ?? { containers: [] };
  const f = await failureOf(core.replaceNamespacedPod({ namespace: ns, name: "regrace", body: { ...created, spec: { ...spec, terminationGracePeriodSeconds: 60 } } }));
  expect(String(f.status["message"])).toMatch(/^Pod "regrace" is invalid: spec: Forbidden: pod updates may not change fields other than /);
  const fixed = await core.replaceNamespacedPod({ namespace: ns, name: "regrace", body: { ...created, spec: { ...spec, terminationGracePeriodSeconds: 1 } } });
  expect(fixed.spec?.terminationGracePeriodSeconds).toBe(1);
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
      // Recorded from v1.36.2: "uses probe or lifecycle host", pluralised by the number of hosts.
      expect(g.status["message"]).toBe('pods "prestop-host" is forbidden: violates PodSecurity "baseline:latest": probe or lifecycle host (container "app" uses probe or lifecycle host "10.96.40.7")');
      const two = { ...app, name: "b-app", readinessProbe: { tcpSocket: { host: "10.0.0.2", port: 80 } }, lifecycle: { preStop: { httpGet: { host: "10.0.0.1", port: 80 } } } };
      const h = await failureOf(core.createNamespacedPod({ namespace: baselineNs, body: { metadata: { name: "hosts" }, spec: { containers: [two, { ...app, name: "a-app", livenessProbe: { httpGet: { host: "10.0.0.1", port: 80 } } }] } } }));
      // [source: check_hostProbesAndhostLifecycle.go] containers and hosts are sets, listed sorted.
      expect(h.status["message"]).toBe('pods "hosts" is forbidden: violates PodSecurity "baseline:latest": probe or lifecycle host (containers "a-app", "b-app" use probe or lifecycle hosts "10.0.0.1", "10.0.0.2")');
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
      // [source: policy/registry.go] baseline reasons first, then restricted ones; an explicit bad value is named.
      const explicit: V1Container = { ...secure, securityContext: { ...secure.securityContext, runAsNonRoot: false, seccompProfile: { type: "Unconfined" } } };
      const g = await failureOf(core.createNamespacedPod({ namespace: restrictedNs, body: { metadata: { name: "hostnet" }, spec: { hostNetwork: true, containers: [explicit] } } }));
      expect(g.status["message"]).toBe('pods "hostnet" is forbidden: violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true), runAsNonRoot != true (container "app" must not set securityContext.runAsNonRoot=false), seccompProfile (container "app" must not set securityContext.seccompProfile.type to "Unconfined")');
    } finally {
      await deleteNamespace(cluster.kc, restrictedNs);
    }
  });
});
