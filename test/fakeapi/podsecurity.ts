// Pod Security admission (k8s.io/pod-security-admission), enforce mode only, for the checks a
// mutating webhook can trip: it runs after mutating webhooks and judges the patched pod. Baseline:
// host namespaces, privileged, hostPath volumes, host ports, probe/lifecycle `host` (policy 1.34+).
// Restricted adds: volume types (overriding the hostPath check), allowPrivilegeEscalation,
// capabilities, runAsNonRoot, seccompProfile. Reasons are listed baseline checks first, then
// restricted ones, each group in check-ID order (policy/registry.go). Not checked: AppArmor,
// SELinux, /proc mount, sysctls, runAsUser=0, user namespaces and Windows specifics.
import type { Obj } from "./objects.ts";
import { arr, isObj, labelsOf, obj, objs, str } from "./objects.ts";

const restrictedVolumes = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "image"]);
const otherVolumes = ["hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs", "rbd", "flexVolume",
  "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos"];

/** A failed check: its ID and its reason. */
type Reason = readonly [string, string];

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const quoteList = (items: readonly string[]): string => items.map((i) => JSON.stringify(i)).join(", ");
const plural = (word: string, n: number): string => (n === 1 ? word : `${word}s`);
const uses = (n: number): string => (n === 1 ? "uses" : "use");
const name = (c: Obj): string => str(c["name"]) ?? "";
const sc = (c: Obj): Obj => obj(c["securityContext"]);
/** sets.List: unique and sorted. */
const sortedSet = (items: readonly string[]): string[] => [...new Set(items)].sort(byteOrder);

function hostsOf(handler: unknown): string[] {
  return ["httpGet", "tcpSocket"].map((kind) => str(obj(obj(handler)[kind])["host"]) ?? "").filter((h) => h !== "");
}

function baseline(spec: Obj, containers: Obj[], version: number): Reason[] {
  const out: Reason[] = [];
  const hostNs = ["hostNetwork", "hostPID", "hostIPC"].filter((k) => spec[k] === true).map((k) => `${k}=true`);
  if (hostNs.length > 0) out.push(["hostNamespaces", `host namespaces (${hostNs.join(", ")})`]);
  const hostPath = objs(spec["volumes"]).filter((v) => v["hostPath"] !== undefined).map(name);
  if (hostPath.length > 0) out.push(["hostPathVolumes", `hostPath volumes (${plural("volume", hostPath.length)} ${quoteList(hostPath)})`]);
  const portUsers = containers.filter((c) => objs(c["ports"]).some((p) => typeof p["hostPort"] === "number" && p["hostPort"] !== 0)).map(name);
  if (portUsers.length > 0) {
    const ports = sortedSet(containers.flatMap((c) => objs(c["ports"]).filter((p) => typeof p["hostPort"] === "number" && p["hostPort"] !== 0).map((p) => String(p["hostPort"]))));
    out.push(["hostPorts", `hostPort (${plural("container", portUsers.length)} ${quoteList(portUsers)} ${uses(portUsers.length)} ${plural("hostPort", ports.length)} ${ports.join(", ")})`]);
  }
  if (version >= 34) {
    // Since policy v1.34 baseline allows no `host` at all, not even localhost; names and hosts are sets.
    const users: string[] = [];
    const hosts: string[] = [];
    for (const c of containers) {
      const lifecycle = obj(c["lifecycle"]);
      const found = [c["livenessProbe"], c["readinessProbe"], c["startupProbe"], lifecycle["postStart"], lifecycle["preStop"]].flatMap(hostsOf);
      if (found.length > 0) {
        users.push(name(c));
        hosts.push(...found);
      }
    }
    const u = sortedSet(users);
    const h = sortedSet(hosts);
    if (u.length > 0) out.push(["hostProbesAndHostLifecycle", `probe or lifecycle host (${plural("container", u.length)} ${quoteList(u)} ${uses(u.length)} ${plural("probe or lifecycle host", h.length)} ${quoteList(h)})`]);
  }
  const privileged = containers.filter((c) => sc(c)["privileged"] === true).map(name);
  if (privileged.length > 0) out.push(["privileged", `privileged (${plural("container", privileged.length)} ${quoteList(privileged)} must not set securityContext.privileged=true)`]);
  return out;
}

/** runAsNonRoot and seccompProfile share a shape: an explicit bad value is named, a missing one asked for. */
type Setting = string | boolean | undefined;

function setting(v: unknown): Setting {
  return typeof v === "string" || typeof v === "boolean" ? v : undefined;
}

function explicitOrImplicit(podValue: Setting, containerValue: (c: Obj) => Setting, ok: (v: Setting) => boolean, containers: Obj[]): { badSetters: string[]; badValues: string[]; implicit: string[] } {
  const badSetters: string[] = [];
  const badValues: string[] = [];
  let podOk = false;
  if (podValue !== undefined) {
    if (ok(podValue)) podOk = true;
    else {
      badSetters.push("pod");
      badValues.push(String(podValue));
    }
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  for (const c of containers) {
    const v = containerValue(c);
    if (v !== undefined) {
      if (!ok(v)) {
        explicit.push(name(c));
        badValues.push(String(v));
      }
    } else if (!podOk) {
      implicit.push(name(c));
    }
  }
  if (explicit.length > 0) badSetters.push(`${plural("container", explicit.length)} ${quoteList(explicit)}`);
  return { badSetters, badValues: sortedSet(badValues), implicit };
}

function restricted(spec: Obj, containers: Obj[]): Reason[] {
  const out: Reason[] = [];
  const escalation = containers.filter((c) => sc(c)["allowPrivilegeEscalation"] !== false).map(name);
  if (escalation.length > 0) out.push(["allowPrivilegeEscalation", `allowPrivilegeEscalation != false (${plural("container", escalation.length)} ${quoteList(escalation)} must set securityContext.allowPrivilegeEscalation=false)`]);
  const capabilityList = (c: Obj, key: "add" | "drop"): string[] => arr(obj(sc(c)["capabilities"])[key]).map((x) => str(x) ?? "");
  const forbiddenAdds = (c: Obj): string[] => capabilityList(c, "add").filter((a) => a !== "NET_BIND_SERVICE");
  const missingDrop = containers.filter((c) => !capabilityList(c, "drop").includes("ALL")).map(name);
  const adding = containers.filter((c) => forbiddenAdds(c).length > 0).map(name);
  const added = sortedSet(containers.flatMap(forbiddenAdds));
  const capDetails = [
    ...(missingDrop.length > 0 ? [`${plural("container", missingDrop.length)} ${quoteList(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`] : []),
    ...(adding.length > 0 ? [`${plural("container", adding.length)} ${quoteList(adding)} must not include ${quoteList(added)} in securityContext.capabilities.add`] : []),
  ];
  if (capDetails.length > 0) out.push(["capabilities_restricted", `unrestricted capabilities (${capDetails.join("; ")})`]);
  const badVolumes = objs(spec["volumes"]).filter((v) => !Object.keys(v).some((k) => restrictedVolumes.has(k) && v[k] !== null));
  if (badVolumes.length > 0) {
    const types = sortedSet(badVolumes.map((v) => otherVolumes.find((k) => v[k] !== undefined && v[k] !== null) ?? "unknown"));
    out.push(["restrictedVolumes", `restricted volume types (${plural("volume", badVolumes.length)} ${quoteList(badVolumes.map(name))} ${uses(badVolumes.length)} ${plural("restricted volume type", types.length)} ${quoteList(types)})`]);
  }
  const podSc = obj(spec["securityContext"]);
  const nonRoot = explicitOrImplicit(setting(podSc["runAsNonRoot"]), (c) => setting(sc(c)["runAsNonRoot"]), (v) => v === true, containers);
  if (nonRoot.badSetters.length > 0) out.push(["runAsNonRoot", `runAsNonRoot != true (${nonRoot.badSetters.join(" and ")} must not set securityContext.runAsNonRoot=false)`]);
  else if (nonRoot.implicit.length > 0) out.push(["runAsNonRoot", `runAsNonRoot != true (pod or ${plural("container", nonRoot.implicit.length)} ${quoteList(nonRoot.implicit)} must set securityContext.runAsNonRoot=true)`]);
  const seccompType = (o: Obj): Setting => (isObj(o["seccompProfile"]) ? str(obj(o["seccompProfile"])["type"]) ?? "" : undefined);
  const seccomp = explicitOrImplicit(seccompType(podSc), (c) => seccompType(sc(c)), (v) => v === "RuntimeDefault" || v === "Localhost", containers);
  if (seccomp.badSetters.length > 0) out.push(["seccompProfile_restricted", `seccompProfile (${seccomp.badSetters.join(" and ")} must not set securityContext.seccompProfile.type to ${quoteList(seccomp.badValues)})`]);
  else if (seccomp.implicit.length > 0) out.push(["seccompProfile_restricted", `seccompProfile (pod or ${plural("container", seccomp.implicit.length)} ${quoteList(seccomp.implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`]);
  return out;
}

/** `latest`, or the minor of `v1.N`; an unparsable version is judged as latest. */
function policyMinor(version: string): number {
  const m = /^v1\.(\d+)$/.exec(version);
  return m === null ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

/** The `violates PodSecurity` reason for this pod in a namespace with these labels, or undefined. */
export function podSecurityViolation(namespace: Obj | undefined, pod: Obj): string | undefined {
  const labels = namespace === undefined ? {} : labelsOf(namespace);
  const level = labels["pod-security.kubernetes.io/enforce"];
  if (level !== "baseline" && level !== "restricted") return undefined;
  const version = labels["pod-security.kubernetes.io/enforce-version"] ?? "latest";
  const spec = obj(pod["spec"]);
  const containers = [...objs(spec["initContainers"]), ...objs(spec["containers"]), ...objs(spec["ephemeralContainers"])];
  const byId = (a: Reason, b: Reason): number => byteOrder(a[0], b[0]);
  let reasons = baseline(spec, containers, policyMinor(version)).sort(byId);
  if (level === "restricted") {
    // restrictedVolumes overrides the baseline hostPath check.
    reasons = [...reasons.filter((r) => r[0] !== "hostPathVolumes"), ...restricted(spec, containers).sort(byId)];
  }
  return reasons.length === 0 ? undefined : `violates PodSecurity "${level}:${version}": ${reasons.map((r) => r[1]).join(", ")}`;
}
