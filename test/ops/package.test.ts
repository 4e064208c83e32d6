// The CLI's one artifact, dist/lameduck-VERSION.tgz (build/pack.ts), installed the way the README
// says, into a temporary prefix, and run from elsewhere with the machine's own Node.js first on the
// PATH: `lameduck inject` and `kubectl lameduck` work without the checkout, and a Node.js too old
// for the bundle gets the Node.js 24 installed with it, or one sentence saying what is needed.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
const tarball = join(root, "dist", `lameduck-${version}.tgz`);
// The machine's Node.js, older than the bundle needs on this project's build machines (v20).
const systemNode = ["/usr/bin/node", "/usr/local/bin/node"].find((p) => existsSync(p));
const systemVersion = systemNode === undefined ? undefined : execFileSync(systemNode, ["--version"], { encoding: "utf8" }).trim();
const tooOld = systemVersion !== undefined && !/^v(2[3-9]|[3-9]\d|22\.(19|[2-9]\d))/.test(systemVersion);

const manifest = `# web, as a GitOps repository keeps it
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: app, image: nginx}]
`;

let prefix: string;
let elsewhere: string;
let path: string;

function installed(command: string, args: readonly string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(join(prefix, "bin", command), args, { cwd: elsewhere, input, encoding: "utf8", timeout: 30_000, env: { PATH: path, HOME: elsewhere } });
}

beforeAll(() => {
  prefix = mkdtempSync(join(tmpdir(), "lameduck-prefix-"));
  elsewhere = mkdtempSync(join(tmpdir(), "lameduck-elsewhere-"));
  // The old Node.js first, as on a machine whose distribution ships one; npm after it.
  path = [...(systemNode === undefined ? [] : [dirname(systemNode)]), join(prefix, "bin"), ...(process.env["PATH"] ?? "").split(delimiter)].join(delimiter);
  execFileSync("npm", ["install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], {
    cwd: elsewhere, env: { ...process.env, PATH: path }, stdio: ["ignore", "ignore", "pipe"], timeout: 180_000,
  });
}, 200_000);

afterAll(() => {
  // The prefix holds a Node.js binary of 100+ MB.
  for (const dir of [prefix, elsewhere]) rmSync(dir, { recursive: true, force: true });
});

describe("the CLI package", () => {
  it("holds the launcher, the bundle and the hooks this build compiled, and nothing else", () => {
    const files = execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).trim().split("\n").sort();
    expect(files).toEqual(["package/README.md", "package/bin/lameduck.cjs", "package/dist/hook-amd64", "package/dist/hook-arm64", "package/dist/lameduck.mjs", "package/package.json"]);
    const pkg = join(prefix, "lib", "node_modules", "lameduck");
    for (const file of ["hook-amd64", "hook-arm64", "lameduck.mjs"]) expect(readFileSync(join(pkg, "dist", file)).equals(readFileSync(join(root, "dist", file))), file).toBe(true);
  });

  it("installs `lameduck` and `kubectl-lameduck` as one launcher", () => {
    expect(realpathSync(join(prefix, "bin", "lameduck"))).toBe(realpathSync(join(prefix, "bin", "kubectl-lameduck")));
  });

  it("injects a manifest from stdin, run from another directory", () => {
    const r = installed("lameduck", ["inject", "-f", "-"], manifest);
    expect(r.stderr).not.toContain("needs Node.js");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("lameduck.dev/injected:");
    expect(r.stdout).toContain("preStop:");
  });

  it("answers as a kubectl plugin", () => {
    const r = installed("kubectl-lameduck", ["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Usage: kubectl lameduck COMMAND");
    expect(r.stdout).toContain("inject");
    expect(installed("kubectl-lameduck", ["check", "--help"]).stdout).toContain("Usage: kubectl lameduck check [flags]");
    expect(installed("lameduck", ["--help"]).stdout).toContain("Usage: lameduck COMMAND");
  });

  it("passes the exit code through", () => {
    expect(installed("lameduck", ["frobnicate"]).status).toBe(2);
  });

  it.runIf(tooOld)("on an old Node.js without the node package beside it, says what it needs", () => {
    // The launcher and bundle alone, as if the optional `node` package had failed to install.
    const bare = join(elsewhere, "bare");
    mkdirSync(join(bare, "bin"), { recursive: true });
    mkdirSync(join(bare, "dist"));
    copyFileSync(join(root, "build", "launcher.cjs"), join(bare, "bin", "lameduck.cjs"));
    copyFileSync(join(root, "dist", "lameduck.mjs"), join(bare, "dist", "lameduck.mjs"));
    const r = spawnSync(systemNode ?? "node", [join(bare, "bin", "lameduck.cjs"), "--help"], { cwd: elsewhere, encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`lameduck needs Node.js >= 22.19 (found ${systemVersion ?? ""})\n`);
  });
});
