import { describe, expect, it } from "vitest";
import { podSecurityViolations, type ContainerLike, type PodSpecLike } from "../../injector/ops/podsecurity.ts";

const restrictedContainer: ContainerLike = { name: "web", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } };

function restrictedPod(changes: Partial<PodSpecLike> = {}, container: Partial<ContainerLike> = {}): PodSpecLike {
  return {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    containers: [{ ...restrictedContainer, ...container }],
    ...changes,
  };
}

describe("Pod Security levels", () => {
  it("admits a pod that follows the restricted rules at every level", () => {
    for (const level of ["privileged", "baseline", "restricted"] as const) expect(podSecurityViolations(restrictedPod(), level)).toEqual([]);
  });

  it("names baseline violations: host namespaces, hostPath, privileged, extra capabilities, handler hosts", () => {
    const pod = restrictedPod(
      { hostNetwork: true, volumes: [{ name: "root", hostPath: { path: "/" } }] },
      {
        securityContext: { privileged: true, capabilities: { add: ["SYS_ADMIN"] } },
        lifecycle: { preStop: { httpGet: { host: "10.0.0.1" } } },
      },
    );
    expect(podSecurityViolations(pod, "baseline")).toEqual(
      expect.arrayContaining(["hostNetwork", "hostPath volume root", "container web privileged", "container web adds capability SYS_ADMIN", "container web lifecycle httpGet.host"]),
    );
    expect(podSecurityViolations(pod, "privileged")).toEqual([]);
  });

  it("holds restricted to its volume types, non-root, no escalation, seccomp and dropped capabilities", () => {
    const pod: PodSpecLike = { containers: [{ name: "app" }], volumes: [{ name: "data", nfs: { server: "nfs", path: "/" } }] };
    expect(podSecurityViolations(pod, "baseline")).toEqual([]);
    expect(podSecurityViolations(pod, "restricted")).toEqual([
      "volume data of type nfs",
      "container app allowPrivilegeEscalation not false",
      "container app runAsNonRoot not true",
      "container app seccompProfile not RuntimeDefault or Localhost",
      "container app does not drop ALL capabilities",
    ]);
  });

  it("accepts the projected volume and exec preStop that lameduck injects at restricted", () => {
    const pod = restrictedPod(
      {
        volumes: [
          {
            name: "lameduck",
            projected: {
              sources: [
                { configMap: { name: "lameduck-hook-3f2a9c1e", optional: true, items: [{ key: "hook-amd64", path: "hook", mode: 365 }] } },
                { downwardAPI: { items: [{ path: "pod/uid", fieldRef: { fieldPath: "metadata.uid" } }] } },
              ],
            },
          },
        ],
      },
      { lifecycle: { preStop: {} } },
    );
    expect(podSecurityViolations(pod, "restricted")).toEqual([]);
  });
});
