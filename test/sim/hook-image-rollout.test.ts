// The rollout simulation with --hook-source=image, in a mixed-architecture cluster (an arm64 node
// besides the amd64 one the pods run on): the controller distributes no ConfigMap, the webhook
// mounts the hook image (with ConfigMaps the unpinned pods would get the native sleep here), the
// simulated kubelet mounts it from the build's hook image layout for its own architecture
// (hook-image.ts), and the hook finds its pod through the podinfo volume: nothing is lost.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { makeChildren } from "./children.ts";
import { expectLameduckRollout } from "./expect-rollout.ts";
import { runScenario, Strategy } from "./scenario.ts";

const quick = { name: "test (50-100 ms)", minMs: 50, maxMs: 100 };
const children = makeChildren();
const dirs: string[] = [];

afterAll(async () => {
  children.killAll();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it("with the hook image in a mixed-architecture cluster, web pods wait for the drain, the worker is released at once, and no ConfigMap is made", async () => {
  const workDir = await mkdtemp(join(tmpdir(), "lameduck-sim-image-"));
  dirs.push(workDir);
  const result = await runScenario(
    { strategy: Strategy.lameduck, profile: quick, replicas: 2, workerReplicas: 1, rps: 40, warmupMs: 500, tailMs: 500, seed: 3, hookImage: "registry.sim/lameduck-hook:test", secondNodeArch: "arm64" },
    { children, progress: () => undefined, workDir },
  );
  expectLameduckRollout(result);
  const log = (await readFile(join(workDir, "lameduck.log"), "utf8")).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg?: string });
  const messages = log.map((l) => l.msg ?? "");
  expect(messages.filter((m) => m.startsWith("hook source is the image"))).toHaveLength(1);
  expect(messages).not.toContain("created hook ConfigMap");
  expect(children.size).toBe(0);
}, 90_000);
