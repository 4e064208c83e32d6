// The judging half of `lameduck check`, on hand-made snapshots: each finding says what is wrong and
// how bad it is. (test/ops/cli.test.ts runs the whole command against the fake API server.)
import { X509Certificate as X509 } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { V1ConfigMap, V1Deployment, V1MutatingWebhookConfiguration, V1Namespace, V1Node } from "@kubernetes/client-node";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { NamespaceSelection } from "../../injector/config.ts";
import { injectedSamples, judgeNodes, judgePodSecurity, judgeVersion } from "../../injector/ops/check-cluster.ts";
import { installedPolicy, judgeCoverage, judgeHookSource } from "../../injector/ops/check-install.ts";
import { defaultInstallNames } from "../../injector/ops/snapshot.ts";
import { judgeCertificates } from "../../injector/ops/certs.ts";
import { probeOracle } from "../../injector/ops/oracle-probe.ts";
import { exitCode, formatReport, type Finding } from "../../injector/ops/report.ts";
import { createCa, issueServing, servingNames, type KeyPairPem } from "../../injector/tls/certs.ts";
import { find, render } from "./render.ts";

// API objects as the server sends them: plain JSON, which client-node's classes describe.
const asNode = (json: object): V1Node => json;
const asNamespace = (json: object): V1Namespace => json;
const asConfigMap = (json: object): V1ConfigMap => json;
const asDeployment = (json: object): V1Deployment => json;
const asWebhook = (json: object): V1MutatingWebhookConfiguration => json;
const levels = (findings: readonly Finding[]): string[] => findings.map((f) => f.level);
const ok = <T,>(value: T): { ok: true; value: T } => ({ ok: true, value });
const now = new Date("2026-11-21T12:00:00Z");
const day = 24 * 3600 * 1000;

describe("the server version", () => {
  it("passes with the native sleep action from 1.30 on", () => {
    expect(levels(judgeVersion(ok({ gitVersion: "v1.36.2" })).findings)).toEqual(["PASS"]);
    expect(levels(judgeVersion(ok({ gitVersion: "v1.30.0-gke.1" })).findings)).toEqual(["PASS"]);
  });
  it("warns without native sleep, and about matchConditions before 1.28", () => {
    expect(levels(judgeVersion(ok({ gitVersion: "v1.29.4" })).findings)).toEqual(["WARN"]);
    expect(levels(judgeVersion(ok({ gitVersion: "v1.27.1" })).findings)).toEqual(["WARN", "WARN"]);
  });
  it("fails before 1.21, which lacks the namespace name label and EndpointSlice v1", () => {
    expect(levels(judgeVersion(ok({ gitVersion: "v1.20.2" })).findings)).toEqual(["FAIL"]);
  });
});

const node = (name: string, arch: string, os = "linux"): V1Node => asNode({ metadata: { name, labels: { "kubernetes.io/arch": arch, "kubernetes.io/os": os } } });

describe("the nodes", () => {
  it("pass when they share one architecture", () => {
    expect(levels(judgeNodes(ok([node("a", "amd64"), node("b", "amd64")]), { major: 1, minor: 36 }))).toEqual(["PASS"]);
  });
  it("warn in a mixed cluster, saying what unpinned pods get", () => {
    const [f] = judgeNodes(ok([node("a", "amd64"), node("b", "arm64")]), { major: 1, minor: 29 });
    expect(f?.level).toBe("WARN");
    expect(f?.details?.join(" ")).toContain("no preStop");
  });
  it("warn about an architecture without a hook binary", () => {
    expect(judgeNodes(ok([node("a", "s390x")]), { major: 1, minor: 36 }).map((f) => f.message).join(" ")).toContain("no hook binary for s390x");
  });
  it("with the hook image, pass mixed, and fail an architecture the image lacks (its pods could not start)", () => {
    const mixed = judgeNodes(ok([node("a", "amd64"), node("b", "arm64")]), { major: 1, minor: 36 }, true);
    expect(levels(mixed)).toEqual(["PASS"]);
    expect(mixed[0]?.message).toContain("each node pulls the hook image for its own");
    const lacking = judgeNodes(ok([node("a", "amd64"), node("b", "s390x")]), { major: 1, minor: 36 }, true);
    expect(levels(lacking)).toEqual(["FAIL", "PASS"]);
    expect(lacking[0]?.message).toContain("no hook image for s390x");
  });
});

describe("Pod Security", () => {
  it("builds the injected samples with the real mutation: a hook volume, and the native sleep", () => {
    const [wait, sleep] = injectedSamples();
    expect(wait?.spec.volumes?.some((v) => v.projected !== undefined)).toBe(true);
    expect(JSON.stringify(sleep?.spec.containers[0])).toContain('"sleep":{"seconds"');
  });
  it("passes every namespace level, and warns about values that are no level", () => {
    const ns = (name: string, level?: string): V1Namespace => asNamespace({ metadata: { name, labels: level === undefined ? {} : { "pod-security.kubernetes.io/enforce": level } } });
    const findings = judgePodSecurity([ns("a", "restricted"), ns("b", "baseline"), ns("c"), ns("d", "strict")]);
    expect(levels(findings)).toEqual(["PASS", "WARN"]);
    expect(findings[0]?.message).toContain("restricted: 1");
    expect(findings[1]?.message).toContain("d=strict");
  });
});

describe("the webhook's certificates", () => {
  let ca: KeyPairPem;
  let serving: KeyPairPem;
  const host = "lameduck-webhook.lameduck-system.svc";
  beforeAll(async () => {
    ca = await createCa(now);
    serving = await issueServing(ca, servingNames("lameduck-webhook", "lameduck-system", undefined), now);
  });
  const b64 = (pem: string): string => Buffer.from(pem).toString("base64");

  it("pass when the caBundle's CA signed the serving certificate for the Service's name", () => {
    expect(levels(judgeCertificates({ caBundle: b64(ca.cert), servingCert: serving.cert, host, now }))).toEqual(["PASS"]);
  });
  it("fail without a caBundle, with another CA, or for another name", async () => {
    expect(levels(judgeCertificates({ caBundle: undefined, servingCert: serving.cert, host, now }))).toEqual(["FAIL"]);
    const other = await createCa(now);
    expect(judgeCertificates({ caBundle: b64(other.cert), servingCert: serving.cert, host, now }).map((f) => f.message).join()).toContain("not signed by a CA in the caBundle");
    expect(judgeCertificates({ caBundle: b64(ca.cert), servingCert: serving.cert, host: "other.lameduck-system.svc", now }).map((f) => f.level)).toContain("FAIL");
  });
  it("check an IP address against the certificate's IP names (webhook registered by URL)", async () => {
    const byIp = await issueServing(ca, servingNames("lameduck-webhook", "lameduck-system", "https://127.0.0.1:8443/mutate"), now);
    expect(levels(judgeCertificates({ caBundle: b64(ca.cert), servingCert: byIp.cert, host: "127.0.0.1", now }))).toEqual(["PASS"]);
    expect(levels(judgeCertificates({ caBundle: b64(ca.cert), servingCert: serving.cert, host: "127.0.0.1", now }))).toEqual(["FAIL"]);
  });
  it("warn shortly before the serving certificate expires and fail after", () => {
    const validTo = new Date(new X509(serving.cert).validTo).getTime();
    expect(levels(judgeCertificates({ caBundle: b64(ca.cert), servingCert: serving.cert, host, now: new Date(validTo - 10 * day) }))).toEqual(["WARN"]);
    expect(levels(judgeCertificates({ caBundle: b64(ca.cert), servingCert: serving.cert, host, now: new Date(validTo + day) }))).toEqual(["FAIL"]);
  });
});

describe("the hook ConfigMap coverage", () => {
  const ns = (name: string, ageMs: number, labels: Record<string, string> = {}): V1Namespace => asNamespace({
    metadata: { name, labels, creationTimestamp: new Date(now.getTime() - ageMs) },
    status: { phase: "Active" },
  });
  const cm = (namespace: string, hash: string): V1ConfigMap => asConfigMap({
    metadata: { namespace, name: `lameduck-hook-${hash}`, labels: { "app.kubernetes.io/managed-by": "lameduck", "lameduck.dev/hook": hash }, creationTimestamp: now },
  });
  const optOut = { namespaceSelection: NamespaceSelection.optOut, excludedNamespaces: ["lameduck-system", "kube-system"] };

  it("passes when every selected namespace holds the current version", () => {
    const f = judgeCoverage({ namespaces: [ns("a", day), ns("b", day), ns("kube-system", day)], configMaps: [cm("a", "aaaa1111"), cm("b", "aaaa1111")], policy: optOut, localHash: undefined, now });
    expect(levels(f)).toEqual(["PASS"]);
    expect(f[0]?.message).toContain("all 2 selected namespaces");
  });
  it("fails for an old namespace without it and only warns for one created a moment ago", () => {
    const f = judgeCoverage({ namespaces: [ns("a", day), ns("b", day), ns("c", day), ns("new", 5000)], configMaps: [cm("a", "aaaa1111"), cm("b", "aaaa1111")], policy: optOut, localHash: undefined, now });
    expect(levels(f)).toEqual(["FAIL", "WARN"]);
    expect(f[0]?.details).toEqual(["c"]);
  });
  it("follows the opt-in selection and the opt-out label, and flags ConfigMaps left where they do not belong", () => {
    const optIn = { ...optOut, namespaceSelection: NamespaceSelection.optIn };
    const f = judgeCoverage({ namespaces: [ns("in", day, { "lameduck.dev/inject": "true" }), ns("plain", day)], configMaps: [cm("in", "aaaa1111"), cm("plain", "aaaa1111")], policy: optIn, localHash: undefined, now });
    expect(levels(f)).toEqual(["PASS", "WARN"]);
    expect(f[1]?.message).toContain("plain");
  });
  it("fails when no namespace holds any hook, and warns when this CLI ships another version", () => {
    expect(levels(judgeCoverage({ namespaces: [ns("a", day)], configMaps: [], policy: optOut, localHash: undefined, now }))).toEqual(["FAIL"]);
    expect(levels(judgeCoverage({ namespaces: [ns("a", day)], configMaps: [cm("a", "aaaa1111")], policy: optOut, localHash: "bbbb2222", now }))).toEqual(["WARN", "PASS"]);
  });
});

describe("the hook source", () => {
  const cm = (namespace: string): V1ConfigMap => asConfigMap({ metadata: { namespace, name: "lameduck-hook-aaaa1111", labels: { "lameduck.dev/hook": "aaaa1111" } } });
  it("comes from the controller's flags and is reported either way", async () => {
    const deployment = asDeployment(find(await render("manifests"), "Deployment", "lameduck"));
    expect(installedPolicy(deployment, undefined, defaultInstallNames).hookSource).toEqual({ kind: "configmap" });
    const container = deployment.spec?.template.spec?.containers[0];
    if (container !== undefined) container.args = [...(container.args ?? []), "--hook-source=image", "--hook-image=registry.example/lameduck-hook:1"];
    const hookSource = installedPolicy(deployment, undefined, defaultInstallNames).hookSource;
    expect(hookSource).toEqual({ kind: "image", image: "registry.example/lameduck-hook:1" });
    expect(judgeHookSource({ kind: "configmap" }, [])[0]?.message).toMatch(/^configmap: /);
    const f = judgeHookSource({ kind: "image", image: "registry.example/lameduck-hook:1" }, []);
    expect(levels(f)).toEqual(["PASS"]);
    expect(f[0]?.message).toContain("image registry.example/lameduck-hook:1: pods mount it as an image volume, no hook ConfigMaps are distributed");
  });
  it("with the image, names the ConfigMaps left from before instead of asking for them everywhere", () => {
    const f = judgeHookSource({ kind: "image", image: "registry.example/lameduck-hook:1" }, [cm("a"), cm("b"), cm("b")]);
    expect(levels(f)).toEqual(["PASS", "PASS"]);
    expect(f[1]?.message).toContain("3 hook ConfigMap(s) from before the image remain");
  });
});

describe("the oracle probe", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => {
      if (server === undefined) r(undefined);
      else server.close(r);
    });
    server = undefined;
  });
  const serve = async (status: number, body: string): Promise<string> => {
    const s = createServer((req, res) => {
      expect(req.url).toMatch(/^\/v1\/pods\/[^/]+\/drain\?wait=0$/);
      res.writeHead(status, { Connection: "close" }).end(body);
    });
    server = s;
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    return `127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  it("passes when the oracle answers a state", async () => {
    const address = await serve(200, "serving ports=8443\n");
    expect((await probeOracle({ address, explicit: false, uid: "u", timeoutMs: 5000 })).level).toBe("PASS");
  });
  it("fails when the oracle answers 503", async () => {
    const address = await serve(503, "not ready: EndpointSlice cache not synced\n");
    expect((await probeOracle({ address, explicit: false, uid: "u", timeoutMs: 5000 })).level).toBe("FAIL");
  });
  it("takes another server answering at the ClusterIP for an unreachable oracle, but not at an address the operator gave", async () => {
    const address = await serve(404, "<html>proxy</html>");
    expect((await probeOracle({ address, explicit: false, uid: "u", timeoutMs: 5000 })).level).toBe("WARN");
    expect((await probeOracle({ address, explicit: true, uid: "u", timeoutMs: 5000 })).level).toBe("FAIL");
  });
  it("only warns when the ClusterIP cannot be reached from here, but fails for an address the operator gave", async () => {
    const address = await serve(200, "unselected\n");
    await new Promise((r) => server?.close(r));
    server = undefined;
    const implicit = await probeOracle({ address, explicit: false, uid: "u", timeoutMs: 5000 });
    expect(implicit.level).toBe("WARN");
    expect(implicit.message).toContain("unreachable from here");
    expect((await probeOracle({ address, explicit: true, uid: "u", timeoutMs: 5000 })).level).toBe("FAIL");
  });
});

describe("the report", () => {
  it("exits 1 only when something failed, and counts each level", () => {
    const findings: Finding[] = [
      { level: "PASS", area: "a", message: "fine" },
      { level: "WARN", area: "bb", message: "hmm", details: ["why"] },
    ];
    expect(exitCode(findings)).toBe(0);
    expect(exitCode([...findings, { level: "FAIL", area: "c", message: "broken" }])).toBe(1);
    expect(formatReport(findings)).toBe("PASS  a   fine\nWARN  bb  hmm\n          why\n\n1 passed, 1 warnings, 0 failed\n");
  });
});

describe("the installed namespace policy", () => {
  it("comes from the controller's flags, else from the webhook's namespaceSelector, for both overlays", async () => {
    for (const [dir, selection] of [["manifests", "opt-out"], ["manifests/overlays/opt-in", "opt-in"]] as const) {
      const objects = await render(dir);
      const deployment = asDeployment(find(objects, "Deployment", "lameduck"));
      const webhook = asWebhook(find(objects, "MutatingWebhookConfiguration", "lameduck"));
      const fromFlags = installedPolicy(deployment, webhook, defaultInstallNames);
      expect(fromFlags.source).toBe("Deployment lameduck-system/lameduck");
      expect(fromFlags.policy.namespaceSelection).toBe(selection);
      const fromWebhook = installedPolicy(undefined, webhook, defaultInstallNames);
      expect(fromWebhook.source).toBe("MutatingWebhookConfiguration lameduck");
      expect(fromWebhook.policy.namespaceSelection).toBe(selection);
      expect([...fromWebhook.policy.excludedNamespaces].sort()).toEqual([...fromFlags.policy.excludedNamespaces].sort());
    }
  });
});
