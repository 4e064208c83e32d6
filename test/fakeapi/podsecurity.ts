// Pod Security admission (k8s.io/pod-security-admission), enforce mode only, for the checks a
// mutating webhook can trip: it runs after mutating webhooks and judges the patched pod. Baseline:
// host namespaces, privileged, hostPath volumes, host ports, probe/lifecycle `host`. Restricted adds:
// volume types, allowPrivilegeEscalation, capabilities, runAsNonRoot, seccompProfile. Not checked:
// AppArmor, SELinux, /proc mount, sysctls, runAsUser=0 and Windows specifics.
import type { Obj } from "./objects.ts";
import { isObj, labelsOf, obj, objs, str } from "./objects.ts";

const restrictedVolumes = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "image"]);

/** A failed check: its ID (the real checks report in ID order) and its reason. */
type Reason = readonly [string, string];

function quoteList(items: readonly string[]): string {
  return items.map((i) => JSON.stringify(i)).join(", ");
}

function plural(word: string, items: readonly string[]): string {
  return items.length === 1 ? word : `${word}s`;
}

function baseline(spec: Obj, containers: Obj[]): Reason[] {
  const out: Reason[] = [];
  const hostNs = ["hostNetwork", "hostPID", "hostIPC"].filter((k) => spec[k] === true).map((k) => `${k}=true`);
  if (hostNs.length > 0) out.push(["hostNamespaces", `host namespaces (${hostNs.join(", ")})`]);
  const privileged = containers.filter((c) => obj(c["securityContext"])["privileged"] === true).map((c) => String(c["name"]));
  if (privileged.length > 0) out.push(["privileged", `privileged (${plural("container", privileged)} ${quoteList(privileged)} must not set securityContext.privileged=true)`]);
  const hostPath = objs(spec["volumes"]).filter((v) => v["hostPath"] !== undefined).map((v) => String(v["name"]));
  if (hostPath.length > 0) out.push(["hostPathVolumes", `hostPath volumes (${plural("volume", hostPath)} ${quoteList(hostPath)})`]);
  const ports = containers.flatMap((c) => objs(c["ports"]).filter((p) => typeof p["hostPort"] === "number" && p["hostPort"] !== 0).map((p) => ({ c: String(c["name"]), port: String(p["hostPort"]) })));
  if (ports.length > 0) {
    const names = [...new Set(ports.map((p) => p.c))];
    out.push(["hostPorts", `hostPort (${plural("container", names)} ${quoteList(names)} ${names.length === 1 ? "uses" : "use"} ${plural("hostPort", ports.map((p) => p.port))} ${ports.map((p) => p.port).join(", ")})`]);
  }
  const hosts: string[] = [];
  const hostUsers: string[] = [];
  for (const c of containers) {
    const handlers = [c["livenessProbe"], c["readinessProbe"], c["startupProbe"], obj(c["lifecycle"])["preStop"], obj(c["lifecycle"])["postStart"]];
    for (const h of handlers) {
      for (const kind of ["httpGet", "tcpSocket"]) {
        const host = str(obj(obj(h)[kind])["host"]);
        // Since policy v1.34 baseline allows no `host` at all, not even localhost.
        if (host !== undefined && host !== "") {
          if (!hostUsers.includes(String(c["name"]))) hostUsers.push(String(c["name"]));
          if (!hosts.includes(host)) hosts.push(host);
        }
      }
    }
  }
  if (hosts.length > 0) out.push(["hostProbesAndHostLifecycle", `probe or lifecycle host (${plural("container", hostUsers)} ${quoteList(hostUsers)} ${hostUsers.length === 1 ? "uses" : "use"} ${plural("host", hosts)} ${quoteList(hosts)})`]);
  return out;
}

function restricted(spec: Obj, containers: Obj[]): Reason[] {
  const out: Reason[] = [];
  const badVolumes = objs(spec["volumes"]).flatMap((v) => {
    const type = Object.keys(v).find((k) => k !== "name" && isObj(v[k]));
    return type !== undefined && !restrictedVolumes.has(type) ? [{ name: String(v["name"]), type }] : [];
  });
  if (badVolumes.length > 0) {
    out.push(["restrictedVolumes", `restricted volume types (${plural("volume", badVolumes.map((v) => v.name))} ${quoteList(badVolumes.map((v) => v.name))} ${badVolumes.length === 1 ? "uses" : "use"} restricted ${plural("volume type", [...new Set(badVolumes.map((v) => v.type))])} ${quoteList([...new Set(badVolumes.map((v) => v.type))])})`]);
  }
  const podSc = obj(spec["securityContext"]);
  const sc = (c: Obj): Obj => obj(c["securityContext"]);
  const names = (pred: (c: Obj) => boolean): string[] => containers.filter(pred).map((c) => String(c["name"]));
  const escalation = names((c) => sc(c)["allowPrivilegeEscalation"] !== false);
  if (escalation.length > 0) out.push(["allowPrivilegeEscalation", `allowPrivilegeEscalation != false (${plural("container", escalation)} ${quoteList(escalation)} must set securityContext.allowPrivilegeEscalation=false)`]);
  const caps = names((c) => !(Array.isArray(obj(sc(c)["capabilities"])["drop"]) && (obj(sc(c)["capabilities"])["drop"] as unknown[]).includes("ALL")));
  if (caps.length > 0) out.push(["capabilities_restricted", `unrestricted capabilities (${plural("container", caps)} ${quoteList(caps)} must set securityContext.capabilities.drop=["ALL"])`]);
  const nonRoot = names((c) => (sc(c)["runAsNonRoot"] ?? podSc["runAsNonRoot"]) !== true);
  if (nonRoot.length > 0) out.push(["runAsNonRoot", `runAsNonRoot != true (pod or ${plural("container", nonRoot)} ${quoteList(nonRoot)} must set securityContext.runAsNonRoot=true)`]);
  const seccompType = (c: Obj): unknown => obj(sc(c)["seccompProfile"])["type"] ?? obj(podSc["seccompProfile"])["type"];
  const seccomp = names((c) => seccompType(c) !== "RuntimeDefault" && seccompType(c) !== "Localhost");
  if (seccomp.length > 0) out.push(["seccompProfile_restricted", `seccompProfile (pod or ${plural("container", seccomp)} ${quoteList(seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`]);
  return out;
}

/** The `violates PodSecurity` reason for this pod in a namespace with these labels, or undefined. */
export function podSecurityViolation(namespace: Obj | undefined, pod: Obj): string | undefined {
  const level = namespace === undefined ? undefined : labelsOf(namespace)["pod-security.kubernetes.io/enforce"];
  if (level !== "baseline" && level !== "restricted") return undefined;
  const version = (namespace === undefined ? undefined : labelsOf(namespace)["pod-security.kubernetes.io/enforce-version"]) ?? "latest";
  const spec = obj(pod["spec"]);
  const containers = [...objs(spec["initContainers"]), ...objs(spec["containers"])];
  const reasons = [...baseline(spec, containers), ...(level === "restricted" ? restricted(spec, containers) : [])].sort((a, b) => a[0].localeCompare(b[0]));
  return reasons.length === 0 ? undefined : `violates PodSecurity "${level}:${version}": ${reasons.map((r) => r[1]).join(", ")}`;
}
