// What an operator sees without a cluster: no kubeconfig anywhere, or one whose API server does not
// answer. Every command says so in words that name what was tried, exits non-zero, and prints none of
// client-node's warnings about its http://localhost:8080 fallback.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bundle = join(import.meta.dirname, "..", "..", "dist", "lameduck.mjs");
let home: string;
let deadKubeconfig: string;
let deadServer: string;

/** The bundle with an environment holding nothing that names a cluster. */
function lameduck(args: readonly string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const clean: Record<string, string> = { PATH: process.env["PATH"] ?? "", HOME: home, ...env };
  return spawnSync(process.execPath, [bundle, ...args], { encoding: "utf8", timeout: 30_000, env: clean });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  return port;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "lameduck-home-"));
  deadServer = `https://127.0.0.1:${await closedPort()}`;
  deadKubeconfig = join(home, "dead.yaml");
  writeFileSync(deadKubeconfig, [
    "apiVersion: v1", "kind: Config", "current-context: gone",
    "clusters: [{name: gone, cluster: {server: \"" + deadServer + "\", insecure-skip-tls-verify: true}}]",
    "users: [{name: me, user: {token: t}}]",
    "contexts: [{name: gone, context: {cluster: gone, user: me}}]", "",
  ].join("\n"));
});

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
});

describe("with no kubeconfig anywhere", () => {
  it("check FAILs, exits 1 and names each place it looked and why it found nothing", () => {
    const r = lameduck(["check"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^FAIL {2}cluster {2}no Kubernetes cluster configured; tried:\n/);
    expect(r.stdout).toContain("$KUBECONFIG is not set");
    expect(r.stdout).toContain(`${join(home, ".kube", "config")} does not exist`);
    expect(r.stdout).toContain("in-cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
    expect(r.stdout).toContain("0 passed, 0 warnings, 1 failed");
    expect(r.stdout).not.toMatch(/WARN|HTTP protocol|localhost:8080/);
  });

  it.each([["status"], ["uninstall", "--dry-run"]])("%s says so in one line and exits 1", (...args) => {
    const r = lameduck(args);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^lameduck ${args[0]}: no Kubernetes cluster configured: \\$KUBECONFIG is not set; .* does not exist; in-cluster: `));
  });

  it("names a $KUBECONFIG whose files are all missing", () => {
    const r = lameduck(["status"], { KUBECONFIG: join(home, "nope.yaml") });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`lameduck status: $KUBECONFIG names ${join(home, "nope.yaml")}, and none of them exists\n`);
  });

  it("run refuses to start: not in a pod and no --kubeconfig, one line, exit 2", () => {
    // Even with a kubeconfig in the environment: the controller only runs as its service account.
    const r = lameduck(["run"], { KUBECONFIG: deadKubeconfig });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("lameduck run: no Kubernetes cluster configured: no --kubeconfig given; in-cluster: KUBERNETES_SERVICE_HOST/PORT are not set (not running in a pod)\n");
  });
});

describe("with a kubeconfig whose API server does not answer", () => {
  it("check FAILs with the server, the reason and where the kubeconfig came from", () => {
    const r = lameduck(["check"], { KUBECONFIG: deadKubeconfig });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("");
    const [first] = r.stdout.split("\n");
    expect(first).toContain(`FAIL  cluster  cannot reach the API server ${deadServer}: `);
    expect(first).toContain("ECONNREFUSED");
    expect(first).toContain(`(from $KUBECONFIG (${deadKubeconfig}), context "gone")`);
    expect(r.stdout).toContain("0 passed, 0 warnings, 1 failed");
  });

  it("status and uninstall say the same in one line", () => {
    for (const args of [["status"], ["uninstall", "--dry-run"]]) {
      const r = lameduck(args, { KUBECONFIG: deadKubeconfig });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^lameduck ${args[0] ?? ""}: cannot reach the API server https://127\\.0\\.0\\.1:\\d+: .*ECONNREFUSED.*\\n$`));
    }
  });

  it("names an unknown --context and the contexts there are", () => {
    const r = lameduck(["status", `--kubeconfig=${deadKubeconfig}`, "--context=prod"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`lameduck status: --context prod: no such context in --kubeconfig ${deadKubeconfig} (it has gone)\n`);
  });

  it("run gives up after a few attempts with one line instead of looping", () => {
    const started = performance.now();
    const r = lameduck(["run", `--kubeconfig=${deadKubeconfig}`]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(new RegExp(`^lameduck run: cannot reach the API server ${deadServer}: .*ECONNREFUSED.*\\n$`));
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
