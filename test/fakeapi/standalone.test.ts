import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startFakeApi } from "./index.ts";
import type { FakeApi } from "./index.ts";

const run = promisify(execFile);
let fake: FakeApi;
let kubeconfig: string;

beforeAll(async () => {
  fake = await startFakeApi();
  kubeconfig = join(mkdtempSync(join(tmpdir(), "fakeapi-")), "kubeconfig");
  writeFileSync(kubeconfig, fake.kubeconfigYaml());
});

afterAll(async () => {
  await fake.close();
});

it("kubectl lists and reads pods through the kubeconfig", async () => {
  const core = fake.kubeConfig().makeApiClient((await import("@kubernetes/client-node")).CoreV1Api);
  await core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "via-kubectl" }, spec: { containers: [{ name: "a", image: "a:1" }] } } });
  const table = await run("kubectl", ["--kubeconfig", kubeconfig, "get", "pods"]);
  expect(table.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\nvia-kubectl\s+0\/1\s+Pending\s+0\s+\d+s\n$/);
  const json = await run("kubectl", ["--kubeconfig", kubeconfig, "get", "pod", "via-kubectl", "-o", "jsonpath={.spec.terminationGracePeriodSeconds}"]);
  expect(json.stdout).toBe("30");
});

it("the standalone entry prints its URL, writes a kubeconfig and stops on SIGTERM", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "fakeapi-main-")), "kubeconfig");
  const child = spawn(process.execPath, [join(import.meta.dirname, "main.ts"), "--port", "0", "--kubeconfig-out", out], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (c: Buffer) => {
      text += c.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(text);
      if (m !== null) resolve(m[0]);
    });
    child.on("exit", (code) => { reject(new Error(`exited early with ${String(code)}`)); });
  });
  const version = (await (await fetch(`${url}/version`)).json()) as { gitVersion: string };
  expect(version.gitVersion).toBe("v1.36.2");
  expect(await (await fetch(`${url}/readyz`)).text()).toBe("ok");
  expect(readFileSync(out, "utf8")).toContain(url);
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
});
