// The simulation against an API server given by a kubeconfig: the in-repo one, started as a separate
// process as if it were a foreign one, reached only through the kubeconfig it writes.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNode } from "../support/cluster.ts";
import { makeChildren } from "./children.ts";
import { expectLameduckRollout } from "./expect-rollout.ts";
import { Injection } from "./injection.ts";
import { runNodeShutdown } from "./nodeshutdown.ts";
import { runScenario, Strategy } from "./scenario.ts";
import { endpointIpMessages } from "../fakeapi/ips.ts";
import { choosePodIp } from "./podip.ts";
import { ForeignClusterError, type SimTarget } from "./simcluster.ts";

const root = join(import.meta.dirname, "..", "..");
const quick = { name: "test (50-100 ms)", minMs: 50, maxMs: 100 };
const children = makeChildren();
const dir = mkdtempSync(join(tmpdir(), "lameduck-sim-kubeconfig-"));
const kubeconfig = join(dir, "kubeconfig");
// As `npm run demo -- --kubeconfig` chooses it: this machine's first non-loopback IPv4 address. The
// server enforces the real EndpointSlice address rules, so a scenario that reaches its rollout has
// had its pods published at this address.
const podIp = choosePodIp(undefined, "--pod-ip");
const target: SimTarget = { kind: "kubeconfig", path: kubeconfig, podIp };
let server: ChildProcess | undefined;

beforeAll(async () => {
  const child = spawn(process.execPath, [join(root, "test", "fakeapi", "main.ts"), "--port", "0", "--kubeconfig-out", kubeconfig], { stdio: ["ignore", "pipe", "inherit"] });
  server = child;
  await new Promise<void>((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (c: Buffer) => {
      text += c.toString();
      if (/^http:\/\/127\.0\.0\.1:\d+$/m.test(text)) resolve();
    });
    child.on("exit", (code) => { reject(new Error(`the API server exited early with ${String(code)}`)); });
  });
});

async function demo(...args: string[]): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, [join(root, "test", "sim", "demo.ts"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, err };
}

afterAll(async () => {
  children.killAll();
  const exited = new Promise((resolve) => server?.once("exit", resolve));
  server?.kill("SIGTERM");
  await exited;
  rmSync(dir, { recursive: true, force: true });
});

describe("the simulation against an API server given by a kubeconfig", () => {
  it("rolls pods with lameduck's webhook by URL, oracle and hooks, and leaves the server as it found it", async () => {
    const result = await runScenario(
      { strategy: Strategy.lameduck, profile: quick, replicas: 2, workerReplicas: 1, rps: 20, warmupMs: 500, tailMs: 500, seed: 31 },
      { children, progress: () => undefined, workDir: join(dir, "rollout"), target },
    );
    expectLameduckRollout(result);
    expect(endpointIpMessages(podIp)).toEqual([]);
    // The simulation's nodes, namespace and webhook registration are gone again.
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const { CoreV1Api, AdmissionregistrationV1Api } = await import("@kubernetes/client-node");
    expect((await kc.makeApiClient(CoreV1Api).listNode()).items).toEqual([]);
    expect((await kc.makeApiClient(CoreV1Api).listNamespace()).items.map((n) => n.metadata?.name).filter((n) => n?.startsWith("lameduck-sim-"))).toEqual([]);
    expect((await kc.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration()).items).toEqual([]);
    expect(children.size).toBe(0);
  }, 90_000);

  it("rolls pods in policy mode, injected by the API server, and leaves no policy or binding behind", async () => {
    const result = await runScenario(
      { strategy: Strategy.lameduck, injection: Injection.policy, profile: quick, replicas: 2, workerReplicas: 1, rps: 20, warmupMs: 500, tailMs: 500, seed: 34 },
      { children, progress: () => undefined, workDir: join(dir, "policy"), target },
    );
    expectLameduckRollout(result);
    expect(result.webhook?.end.reviews).toBe(0);
    expect(result.uninjectedPods).toEqual([]);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const { AdmissionregistrationV1Api } = await import("@kubernetes/client-node");
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    expect((await admission.listMutatingAdmissionPolicy()).items).toEqual([]);
    expect((await admission.listMutatingAdmissionPolicyBinding()).items).toEqual([]);
    expect((await admission.listMutatingWebhookConfiguration()).items).toEqual([]);
    expect(children.size).toBe(0);
  }, 90_000);

  it("plays a graceful node shutdown through the API alone", async () => {
    const result = await runNodeShutdown(
      { strategy: Strategy.lameduck, profile: quick, rps: 20, shutdownAtMs: 500, shutdownGracePeriodSeconds: 30, shutdownGracePeriodCriticalPodsSeconds: 10, tailMs: 300, seed: 32 },
      { children, progress: () => undefined, workDir: join(dir, "shutdown"), target },
    );
    expect(result.warnings).toEqual([]);
    for (const pod of result.pods) {
      expect(pod.hookLog).toMatch(/^lameduck: unselected reason=not-deleted, /);
      expect(pod.phaseAfter).toBe("Failed");
    }
  }, 90_000);

  it("refuses a cluster with a node that is not the simulation's, naming it, before changing anything", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    await createNode(kc, { name: "prod-worker-7", ip: "10.0.0.7" });
    const run = runScenario(
      { strategy: Strategy.none, profile: quick, replicas: 1, workerReplicas: 0, rps: 10, warmupMs: 100, tailMs: 100, seed: 33 },
      { children, progress: () => undefined, workDir: join(dir, "refused"), target },
    );
    await expect(run).rejects.toThrow(ForeignClusterError);
    await expect(run).rejects.toThrow(/has node "prod-worker-7", which is not one of the simulation's own/);
    const { CoreV1Api } = await import("@kubernetes/client-node");
    expect((await kc.makeApiClient(CoreV1Api).listNode()).items.map((n) => n.metadata?.name)).toEqual(["prod-worker-7"]);
  });

  it("npm run demo -- --kubeconfig refuses it too, with the node named and exit 1", async () => {
    const { code, err } = await demo(`--kubeconfig=${kubeconfig}`, `--chart=${join(dir, "chart.svg")}`);
    expect(code).toBe(1);
    expect(err).toContain('has node "prod-worker-7"');
  }, 60_000);

  it("npm run demo -- --kubeconfig --pod-ip refuses a loopback address with the flag and the rule named, exit 1", async () => {
    const { code, err } = await demo(`--kubeconfig=${kubeconfig}`, "--pod-ip=127.0.0.1", `--chart=${join(dir, "chart-lo.svg")}`);
    expect(code).toBe(1);
    expect(err).toBe("demo: --pod-ip=127.0.0.1: may not be in the loopback range (127.0.0.0/8, ::1/128): a real API server refuses it in an EndpointSlice, so its EndpointSlice controller could never publish the pods\n");
  }, 60_000);

  it("npm run demo -- --injector refuses a value other than webhook or policy, naming it, exit 1", async () => {
    const { code, err } = await demo("--injector=webhooks", `--chart=${join(dir, "chart-injector.svg")}`);
    expect(code).toBe(1);
    expect(err).toBe("demo: --injector=webhooks: expected webhook or policy\n");
  }, 60_000);
});
