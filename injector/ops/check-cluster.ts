// Checks about the cluster lameduck runs in: the API server's version (native sleep), the nodes'
// architectures, and the Pod Security levels namespaces enforce on the pods lameduck changes.
import type { V1Namespace, V1Node } from "@kubernetes/client-node";
import jsonpatch from "fast-json-patch";
import { parseRunConfig } from "../config.ts";
import { staticFacts } from "../offline/static-facts.ts";
import { mutatePod } from "../mutation/mutate.ts";
import type { Pod } from "../mutation/pod.ts";
import { HookKey } from "../names.ts";
import type { Read } from "./kube.ts";
import { parseLevel, podSecurityViolations, type PodSecurityLevel, type PodSpecLike } from "./podsecurity.ts";
import { fail, listed, pass, warn, type Finding } from "./report.ts";

export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
}

export function parseServerVersion(gitVersion: string): ServerVersion | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(gitVersion);
  return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]) };
}

const atLeast = (v: ServerVersion, minor: number): boolean => v.major > 1 || (v.major === 1 && v.minor >= minor);

/** lifecycle.preStop.sleep: beta and on by default since 1.30, GA in 1.34. */
export function nativeSleepSupported(v: ServerVersion): boolean {
  return atLeast(v, 30);
}

export function judgeVersion(read: Read<{ readonly gitVersion: string }>): { findings: Finding[]; version: ServerVersion | undefined } {
  const area = "version";
  if (!read.ok) return { findings: [warn(area, `could not read the server version (${read.error})`)], version: undefined };
  const version = parseServerVersion(read.value.gitVersion);
  if (version === undefined) return { findings: [warn(area, `unrecognised server version "${read.value.gitVersion}"`)], version };
  const v = read.value.gitVersion;
  // The namespaceSelector relies on the kubernetes.io/metadata.name label (set on every namespace
  // since 1.21) and the oracle on discovery.k8s.io/v1 EndpointSlices (1.21).
  if (!atLeast(version, 21)) return { findings: [fail(area, `Kubernetes ${v} is too old: lameduck needs 1.21 or later`)], version };
  const findings: Finding[] = [];
  if (!atLeast(version, 28)) {
    findings.push(warn(area, `Kubernetes ${v} does not serve webhook matchConditions (1.28+): apply the manifests without it; the webhook still skips mirror pods itself`));
  }
  findings.push(
    nativeSleepSupported(version)
      ? pass(area, `Kubernetes ${v}: the native preStop sleep action is served (sleep mode and unpinned pods in mixed-architecture clusters need no binary)`)
      : warn(area, `Kubernetes ${v} has no native preStop sleep action (1.30+): sleep mode runs the hook binary, and unpinned pods in a mixed-architecture cluster get no preStop`),
  );
  return { findings, version };
}

/** `hookImage`: --hook-source=image, where each node pulls the hook for its own architecture. */
export function judgeNodes(read: Read<readonly V1Node[]>, version: ServerVersion | undefined, hookImage = false): Finding[] {
  const area = "nodes";
  if (!read.ok) return [warn(area, `could not list nodes (${read.error})`)];
  const linux = read.value.filter((n) => (n.metadata?.labels?.["kubernetes.io/os"] ?? "linux") === "linux");
  const windows = read.value.length - linux.length;
  const byArch = new Map<string, number>();
  for (const n of linux) {
    const arch = n.metadata?.labels?.["kubernetes.io/arch"] ?? n.status?.nodeInfo?.architecture ?? "unknown";
    byArch.set(arch, (byArch.get(arch) ?? 0) + 1);
  }
  const summary = [...byArch].map(([arch, count]) => `${arch} (${count})`).join(", ");
  const findings: Finding[] = [];
  if (read.value.length === 0) findings.push(warn(area, "no nodes yet: the webhook cannot tell which hook binary new pods need"));
  const unsupported = [...byArch.keys()].filter((a) => !Object.hasOwn(HookKey, a));
  if (unsupported.length > 0 && hookImage) {
    // The webhook cannot know an unpinned pod's node: one scheduled there could not pull its volume.
    findings.push(fail(area, `no hook image for ${unsupported.join(", ")}: unpinned pods scheduled there cannot start (their image volume cannot be pulled); pin them elsewhere, opt those namespaces out, or use --hook-source=configmap`));
  } else if (unsupported.length > 0) {
    findings.push(warn(area, `no hook binary for ${unsupported.join(", ")}: pods pinned there get the native sleep action, or nothing before 1.30`));
  }
  if (byArch.size > 1 && hookImage) {
    findings.push(pass(area, `mixed architectures: ${summary}; each node pulls the hook image for its own, so unpinned pods get the drain wait too`));
  } else if (byArch.size > 1) {
    const native = version !== undefined && nativeSleepSupported(version);
    findings.push(
      warn(area, `mixed architectures: ${summary}`, [
        `pods pinned with a kubernetes.io/arch nodeSelector or required node affinity get the matching hook;`,
        native ? "unpinned pods get the native preStop sleep instead of the drain-aware wait" : "unpinned pods get no preStop at all (no native sleep before 1.30)",
      ]),
    );
  } else if (byArch.size === 1) {
    findings.push(pass(area, `one architecture: ${summary}`));
  }
  if (windows > 0) findings.push(pass(area, `${windows} Windows node(s): Windows pods get the native sleep action where served, else nothing`));
  return findings;
}

/** A Deployment's pod as the API server hands it to the webhook: restricted-compliant, no volumes. */
function samplePod(): Pod {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: "sample-", namespace: "sample", labels: { app: "sample" } },
    spec: {
      terminationGracePeriodSeconds: 30,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "app",
          image: "registry.example/app:1",
          ports: [{ containerPort: 8080 }],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        },
      ],
    },
  };
  return pod;
}

/** The pods the real mutation produces: with the hook volume (wait mode) and with the native sleep. */
export function injectedSamples(): { readonly name: string; readonly spec: PodSpecLike }[] {
  const policy = parseRunConfig([], {}, "");
  const samples: { name: string; spec: PodSpecLike }[] = [];
  for (const [name, nativeSleep, mode] of [["wait (hook volume)", false, "wait"], ["native sleep", true, "sleep"]] as const) {
    const facts = staticFacts({ nativeSleep, architectures: ["amd64"], oracleAddress: "10.96.0.10:8080", hookHash: "00000000", namespaces: { sample: { annotations: { "lameduck.dev/mode": mode } } } });
    const raw = samplePod();
    const outcome = mutatePod(raw, "sample", facts, policy);
    if (outcome.result !== "patched") throw new Error(`sample pod (${name}) was not injected: ${outcome.result}`);
    const injected = jsonpatch.applyPatch(structuredClone(raw), [...outcome.ops], true, false).newDocument;
    samples.push({ name, spec: injected.spec as PodSpecLike });
  }
  return samples;
}

export function judgePodSecurity(namespaces: readonly V1Namespace[]): Finding[] {
  const area = "pod-security";
  const byLevel = new Map<string, string[]>();
  const invalid: string[] = [];
  for (const ns of namespaces) {
    const name = ns.metadata?.name ?? "";
    const value = ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"];
    const level = value === undefined ? "no label (cluster default)" : parseLevel(value);
    if (level === undefined) invalid.push(`${name}=${value ?? ""}`);
    else byLevel.set(level, [...(byLevel.get(level) ?? []), name]);
  }
  const findings: Finding[] = [];
  let samples: ReturnType<typeof injectedSamples>;
  try {
    samples = injectedSamples();
  } catch (err) {
    return [fail(area, `could not build the injected sample pods: ${err instanceof Error ? err.message : String(err)}`)];
  }
  const levels: PodSecurityLevel[] = ["privileged", "baseline", "restricted"];
  const broken = levels.flatMap((level) => samples.flatMap((s) => podSecurityViolations(s.spec, level).map((v) => `${level}, ${s.name}: ${v}`)));
  if (broken.length > 0) findings.push(fail(area, "what lameduck injects violates a Pod Security level", broken));
  const summary = [...byLevel].map(([level, names]) => `${level}: ${names.length}`).join(", ");
  if (broken.length === 0) {
    findings.push(pass(area, `injected pods pass baseline and restricted; namespaces by enforced level: ${summary === "" ? "none" : summary}`));
  }
  if (invalid.length > 0) findings.push(warn(area, `namespaces with an unrecognised enforce level: ${listed(invalid)}`));
  return findings;
}
