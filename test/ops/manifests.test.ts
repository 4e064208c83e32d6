// The rendered manifests, checked against each other and against the code: selectors and ports line up,
// the webhook points at a Service and path that exist, the Deployment's flags are ones `lameduck run`
// accepts, and the pod meets the `restricted` Pod Security level it claims.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { V1Container, V1Deployment, V1MutatingWebhookConfiguration, V1NetworkPolicy, V1PodSpec, V1Service } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { NamespaceSelection, parseRunConfig, type RunConfig } from "../../injector/config.ts";
import { Label } from "../../injector/names.ts";
import { podSecurityViolations } from "../../injector/ops/podsecurity.ts";
import { shutdownWatchdogMs } from "../../injector/shutdown.ts";
import { mutatePath } from "../../injector/admission/server.ts";
import { parseDockerfile } from "./dockerfile.ts";
import { find, kustomizations, render, repoRoot, type K8sObject } from "./render.ts";

const rendered = new Map<string, K8sObject[]>();
const dirs = kustomizations();

beforeAll(async () => {
  for (const dir of dirs) rendered.set(dir, await render(dir));
}, 120_000);

function objects(dir: string): K8sObject[] {
  const found = rendered.get(dir);
  if (found === undefined) throw new Error(`${dir} was not rendered`);
  return found;
}

// The rendered YAML has the API's JSON shape, which client-node's types describe field for field.
const deployment = (o: readonly K8sObject[]): V1Deployment => find(o, "Deployment", "lameduck");
const webhook = (o: readonly K8sObject[]): V1MutatingWebhookConfiguration => find(o, "MutatingWebhookConfiguration", "lameduck");
const service = (o: readonly K8sObject[], name: string): V1Service => find(o, "Service", name);

function podSpec(d: V1Deployment): V1PodSpec {
  const spec = d.spec?.template.spec;
  if (spec === undefined) throw new Error("Deployment has no pod template spec");
  return spec;
}
function controller(d: V1Deployment): V1Container {
  const [c] = podSpec(d).containers;
  if (c === undefined) throw new Error("Deployment has no container");
  return c;
}
function runConfig(o: readonly K8sObject[]): RunConfig {
  const d = deployment(o);
  const env = Object.fromEntries((controller(d).env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace" ? d.metadata?.namespace : e.value]));
  return parseRunConfig(controller(d).args ?? [], env, "/app/dist");
}
function containerPort(c: V1Container, target: number | string | undefined): number | undefined {
  const port = (c.ports ?? []).find((p) => p.name === target || p.containerPort === target);
  return port?.containerPort;
}
function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

const packageVersion = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;

describe("every kustomization", () => {
  it("is found: the install, its base, the opt-in and the policy overlays", () => {
    expect(dirs).toEqual(["manifests", "manifests/base", "manifests/overlays/opt-in", "manifests/overlays/policy"]);
  });

  it("uses only what kustomize v2.0 renders (Debian's kubectl 1.20): files under resources, directories under bases", () => {
    const v2Fields = new Set(["apiVersion", "kind", "resources", "bases", "images", "patchesJson6902", "patchesStrategicMerge", "namespace", "commonLabels", "commonAnnotations", "namePrefix", "nameSuffix"]);
    for (const dir of dirs) {
      const k = parse(readFileSync(join(repoRoot, dir, "kustomization.yaml"), "utf8")) as Record<string, unknown>;
      expect(Object.keys(k).filter((f) => !v2Fields.has(f)), dir).toEqual([]);
      for (const r of (k["resources"] ?? []) as string[]) expect(statSync(join(repoRoot, dir, r)).isFile(), `${dir}: ${r}`).toBe(true);
      for (const b of (k["bases"] ?? []) as string[]) expect(statSync(join(repoRoot, dir, b)).isDirectory(), `${dir}: ${b}`).toBe(true);
    }
  });

  it("renders the same objects from manifests/ as from manifests/base", () => {
    const key = (o: readonly K8sObject[]): string[] => o.map((x) => JSON.stringify(x)).sort();
    expect(key(objects("manifests"))).toEqual(key(objects("manifests/base")));
  });

  describe.each(dirs)("%s", (dir) => {
    it("selects the Deployment's pods with every Service, the PDB, the NetworkPolicy and the spread constraints", () => {
      const o = objects(dir);
      const d = deployment(o);
      const podLabels = d.spec?.template.metadata?.labels;
      expect(selects(d.spec?.selector.matchLabels, podLabels)).toBe(true);
      for (const s of o.filter((x) => x.kind === "Service")) expect(selects((s as unknown as V1Service).spec?.selector, podLabels), s.metadata.name).toBe(true);
      const pdb = find(o, "PodDisruptionBudget") as unknown as { spec: { selector: { matchLabels: Record<string, string> }; minAvailable: number } };
      expect(selects(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
      expect(pdb.spec.minAvailable).toBeLessThan(d.spec?.replicas ?? 0);
      const np = find(o, "NetworkPolicy") as unknown as V1NetworkPolicy;
      expect(selects(np.spec?.podSelector?.matchLabels, podLabels)).toBe(true);
      for (const t of podSpec(d).topologySpreadConstraints ?? []) expect(selects(t.labelSelector?.matchLabels, podLabels)).toBe(true);
    });

    it("points every Service and NetworkPolicy port at a port the container declares and the controller listens on", () => {
      const o = objects(dir);
      const c = controller(deployment(o));
      const config = runConfig(o);
      const listening = new Set([config.webhookPort, config.oraclePort, config.metricsPort]);
      expect((c.ports ?? []).map((p) => p.containerPort).sort()).toEqual([...listening].sort());
      for (const s of o.filter((x) => x.kind === "Service")) {
        for (const p of (s as unknown as V1Service).spec?.ports ?? []) {
          expect(containerPort(c, p.targetPort), `${s.metadata.name} port ${p.port}`).toBeDefined();
        }
      }
      expect(containerPort(c, service(o, config.webhookService).spec?.ports?.[0]?.targetPort)).toBe(config.webhookPort);
      expect(containerPort(c, service(o, config.oracleService).spec?.ports?.[0]?.targetPort)).toBe(config.oraclePort);
      expect(service(o, config.oracleService).spec?.ports?.[0]?.port).toBe(config.oraclePort);
      for (const rule of (find(o, "NetworkPolicy") as unknown as V1NetworkPolicy).spec?.ingress ?? []) {
        for (const p of rule.ports ?? []) expect(containerPort(c, p.port)).toBeDefined();
      }
      expect(containerPort(c, c.livenessProbe?.httpGet?.port)).toBe(config.metricsPort);
      expect(containerPort(c, c.readinessProbe?.httpGet?.port)).toBe(config.metricsPort);
      expect(c.livenessProbe?.httpGet?.path).toBe("/healthz");
      expect(c.readinessProbe?.httpGet?.path).toBe("/readyz");
    });

    it("gives the controller only flags `lameduck run` accepts, in the namespace it runs in", () => {
      const o = objects(dir);
      const d = deployment(o);
      const config = runConfig(o);
      expect(config.namespace).toBe(d.metadata?.namespace);
      expect(find(o, "Namespace").metadata.name).toBe(config.namespace);
      expect(config.webhookConfigName).toBe(webhook(o).metadata?.name);
      expect(config.tlsSecret).toBe("lameduck-webhook-tls");
      expect(podSpec(d).serviceAccountName).toBe(find(o, "ServiceAccount").metadata.name);
    });

    it("keeps the controller serving after SIGTERM until its endpoints are gone, inside the grace period", () => {
      const o = objects(dir);
      const d = deployment(o);
      const { shutdownDelayMs } = runConfig(o);
      // kube-proxy applies an endpoint change about a second after the API has it (DESIGN.md facts).
      expect(shutdownDelayMs).toBeGreaterThanOrEqual(2_000);
      // The kubelet's SIGKILL must not come before the controller's own watchdog (delay + drain + margin).
      expect((podSpec(d).terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(shutdownWatchdogMs(shutdownDelayMs));
      // Without a deletion (a liveness restart) only the probe takes the replica out: the failing
      // probes must add up to less than the delay, leaving a second for kube-proxy.
      const probe = controller(d).readinessProbe;
      const unreadyAfterMs = (probe?.periodSeconds ?? 10) * (probe?.failureThreshold ?? 3) * 1000;
      expect(unreadyAfterMs + 1_000).toBeLessThanOrEqual(shutdownDelayMs);
    });

    it("registers the webhook for pod CREATE only, failing open, on the Service and path the code serves", () => {
      const o = objects(dir);
      const config = runConfig(o);
      const webhooks = webhook(o).webhooks ?? [];
      expect(webhooks).toHaveLength(1);
      const [w] = webhooks;
      expect(w?.name).toBe("pods.lameduck.dev");
      expect(w?.rules).toEqual([{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"], scope: "Namespaced" }]);
      expect(w?.failurePolicy).toBe("Ignore");
      expect(w?.sideEffects).toBe("None");
      expect(w?.reinvocationPolicy).toBe("IfNeeded");
      expect(w?.admissionReviewVersions).toEqual(["v1"]);
      expect(w?.timeoutSeconds).toBeLessThanOrEqual(5);
      const svc = w?.clientConfig.service;
      expect(svc?.namespace).toBe(config.namespace);
      expect(svc?.path).toBe(mutatePath);
      expect(svc?.name).toBe(config.webhookService);
      const target = service(o, svc?.name ?? "");
      expect(target.metadata?.namespace).toBe(svc?.namespace);
      expect((target.spec?.ports ?? []).map((p) => p.port)).toContain(svc?.port ?? 443);
      // The controller owns caBundle; a manifest value would be written back on every apply.
      expect(w?.clientConfig.caBundle).toBeUndefined();
      expect(w?.clientConfig.url).toBeUndefined();
    });

    it("keeps the webhook away from the controller's namespace, kube-system, kube-node-lease and opted-out namespaces, pods and mirror pods", () => {
      const o = objects(dir);
      const config = runConfig(o);
      const [w] = webhook(o).webhooks ?? [];
      const expressions = w?.namespaceSelector?.matchExpressions ?? [];
      const byName = expressions.find((e) => e.key === "kubernetes.io/metadata.name");
      expect(byName?.operator).toBe("NotIn");
      expect([...(byName?.values ?? [])].sort()).toEqual([...config.excludedNamespaces].sort());
      const inject = expressions.find((e) => e.key === Label.inject);
      if (config.namespaceSelection === NamespaceSelection.optIn) expect(inject).toEqual({ key: Label.inject, operator: "In", values: ["true"] });
      else expect(inject).toEqual({ key: Label.inject, operator: "NotIn", values: ["false"] });
      expect(w?.objectSelector?.matchExpressions).toEqual([{ key: Label.inject, operator: "NotIn", values: ["false"] }]);
      expect(w?.matchConditions?.map((m) => m.expression)).toEqual([
        "!has(object.metadata.annotations) || !('kubernetes.io/config.mirror' in object.metadata.annotations)",
      ]);
      expect(find(o, "Namespace").metadata).toMatchObject({ labels: { [Label.inject]: "false" } });
    });

    it("runs the controller at the restricted Pod Security level its namespace enforces", () => {
      const o = objects(dir);
      const d = deployment(o);
      expect(podSecurityViolations(podSpec(d), "restricted")).toEqual([]);
      expect(find(o, "Namespace").metadata).toMatchObject({ labels: { "pod-security.kubernetes.io/enforce": "restricted" } });
      const sc = controller(d).securityContext;
      expect(sc?.readOnlyRootFilesystem).toBe(true);
      expect(sc?.runAsUser).toBe(65532);
      expect(podSpec(d).automountServiceAccountToken).toBe(true);
    });

    it("names a priority class that is rendered with it, and runs the image this version builds", () => {
      const o = objects(dir);
      const d = deployment(o);
      expect(find(o, "PriorityClass", podSpec(d).priorityClassName ?? "").metadata.name).toBe("lameduck-critical");
      expect(controller(d).image).toBe(`ghcr.io/lameduck-dev/lameduck:${packageVersion}`);
      const c = controller(d);
      expect(c.resources?.requests).toBeDefined();
      expect(c.resources?.limits?.["memory"]).toBeDefined();
      expect(d.spec?.replicas).toBe(2);
    });
  });
});

describe("the opt-in overlay", () => {
  it("differs from the install only in the webhook's namespace selector and the selection flag", () => {
    const base = objects("manifests");
    const optIn = objects("manifests/overlays/opt-in");
    const strip = (o: readonly K8sObject[]): string[] =>
      o.map((x) => {
        const copy = structuredClone(x) as Record<string, unknown>;
        if (x.kind === "MutatingWebhookConfiguration") (copy as { webhooks: { namespaceSelector?: unknown }[] }).webhooks.forEach((w) => delete w.namespaceSelector);
        if (x.kind === "Deployment") {
          const c = (copy as { spec: { template: { spec: { containers: { args: string[] }[] } } } }).spec.template.spec.containers[0];
          if (c !== undefined) c.args = c.args.filter((a) => !a.startsWith("--namespace-selection="));
        }
        return JSON.stringify(copy);
      }).sort();
    expect(strip(optIn)).toEqual(strip(base));
    expect(runConfig(optIn).namespaceSelection).toBe(NamespaceSelection.optIn);
    expect(runConfig(base).namespaceSelection).toBe(NamespaceSelection.optOut);
  });
});

describe("the manifests and the image", () => {
  it("agree on the user the controller runs as", () => {
    const runtime = parseDockerfile(readFileSync(join(repoRoot, "Dockerfile"), "utf8")).at(-1);
    const uid = String(controller(deployment(objects("manifests"))).securityContext?.runAsUser);
    expect(runtime?.user?.split(":")[0]).toBe(uid);
  });
});
