// The container image cannot be built here (no Docker engine), so this rebuilds its runtime stage by
// hand: a fresh build into a temporary directory, then exactly the runtime stage's COPY lines, then the
// image's ENTRYPOINT run with the project's Node in a directory that has no node_modules anywhere above.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, parse, posix, relative } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDockerfile, type Stage } from "./dockerfile.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const stages = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));

function stage(index: number): Stage {
  const found = stages.at(index);
  if (found === undefined) throw new Error(`Dockerfile has no stage ${index}`);
  return found;
}
const runtime = stage(-1);
const buildStage = stages.find((s) => s.name === "build");

let work = "";
let built = "";
let image = "";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "lameduck-image-"));
  built = join(work, "build");
  image = join(work, "image");
  await run(process.execPath, [join(root, "build", "build.ts"), `--outdir=${built}`], { cwd: root, timeout: 120_000 });
  for (const copy of runtime.copies) {
    for (const source of copy.sources) {
      const target = copy.sources.length > 1 || copy.destination.endsWith("/") ? join(image, copy.destination, posix.basename(source)) : join(image, copy.destination);
      mkdirSync(dirname(target), { recursive: true });
      cpSync(builtPath(source), target);
    }
  }
}, 180_000);

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

/** Where the build stage's `npm run build` output (WORKDIR/dist) lands in our temporary build. */
function builtPath(source: string): string {
  const dist = posix.join(buildStage?.workdir ?? "/", "dist");
  const rel = posix.relative(dist, source);
  if (rel.startsWith("..") || posix.isAbsolute(rel)) throw new Error(`runtime COPY of ${source} is not a build output under ${dist}`);
  return join(built, rel);
}

/** ENTRYPOINT [node, ...node flags, script, ...args]. */
function entrypoint(): { nodeFlags: string[]; script: string; args: string[] } {
  const [interpreter, ...rest] = runtime.entrypoint ?? [];
  const at = rest.findIndex((a) => !a.startsWith("-"));
  const script = rest[at];
  if (interpreter === undefined || script === undefined) throw new Error("runtime stage has no ENTRYPOINT [node, flags..., script, ...]");
  expect(posix.basename(interpreter)).toBe("node");
  return { nodeFlags: rest.slice(0, at), script: join(image, posix.resolve(runtime.workdir, script)), args: rest.slice(at + 1) };
}

async function startImage(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const { nodeFlags, script } = entrypoint();
  // NODE_PATH and NODE_OPTIONS could smuggle in modules the image would not have.
  const env = { PATH: process.env["PATH"] ?? "", HOME: work };
  return run(process.execPath, [...nodeFlags, script, ...args], { cwd: join(image, runtime.workdir), env, timeout: 30_000 });
}

describe("the image's runtime layout", () => {
  it("has a build stage and a runtime stage that copies only from it", () => {
    expect(buildStage).toBeDefined();
    expect(runtime).not.toBe(buildStage);
    expect(runtime.copies.length).toBeGreaterThan(0);
    for (const copy of runtime.copies) expect(copy.from).toBe("build");
  });

  it("copies exactly the files npm run build produces", () => {
    const copied = runtime.copies.flatMap((c) => c.sources.map((s) => relative(built, builtPath(s)))).sort();
    expect(copied).toEqual(readdirSync(built).sort());
    expect(copied).toEqual(["hook-amd64", "hook-arm64", "lameduck.mjs"]);
  });

  it("gives the build stage every source file the bundle and the hooks are built from", async () => {
    const copied = (buildStage?.copies ?? []).filter((c) => c.from === undefined).flatMap((c) => c.sources.map((s) => s.replace(/\/$/, "")));
    const entryPoints = [join(root, "injector", "main.ts")];
    const result = await build({ absWorkingDir: root, entryPoints, outdir: work, bundle: true, write: false, platform: "node", format: "esm", metafile: true, logLevel: "silent" });
    const inputs = Object.keys(result.metafile.inputs).filter((i) => !i.startsWith("node_modules/"));
    const outside = inputs.filter((i) => !copied.some((c) => i === c || i.startsWith(`${c}/`)));
    expect(outside).toEqual([]);
    for (const needed of ["package.json", "package-lock.json", "build", "hook", "injector"]) expect(copied).toContain(needed);
  }, 60_000);

  it("runs as the non-root user the Deployment's securityContext names", () => {
    expect(runtime.user).toBe("65532:65532");
    expect(runtime.image).toMatch(/:nonroot$/);
  });

  it("uses the Node.js major version the project runs and tests with", () => {
    const major = /nodejs(\d+)-/.exec(runtime.image)?.[1];
    expect(major).toBe(process.versions.node.split(".")[0]);
  });

  it("has no node_modules where Node would look for them", () => {
    const { script } = entrypoint();
    let dir = dirname(script);
    for (;;) {
      expect(existsSync(join(dir, "node_modules")), `${dir}/node_modules`).toBe(false);
      if (dir === parse(dir).root) break;
      dir = dirname(dir);
    }
  });

  it("bundles every dependency: nothing the bundle imports needs a node_modules", async () => {
    // Bundling the bundle again where no node_modules exists: esbuild parses it (comments and strings
    // do not count), takes Node built-ins as given, and fails on any import or require it cannot
    // resolve. A require inside try/catch (an optional native addon) is only a warning, as at run time.
    const result = await build({ entryPoints: [entrypoint().script], bundle: true, write: false, platform: "node", format: "esm", logLevel: "silent" }).catch((e: unknown) => e);
    const errors = result instanceof Error && "errors" in result && Array.isArray(result.errors) ? result.errors.map((m: { text: string }) => m.text) : [];
    expect(errors).toEqual([]);
    expect(result).not.toBeInstanceOf(Error);
  }, 60_000);

  it("starts the bundle with --help from the image layout", async () => {
    const { stdout } = await startImage(["--help"]);
    expect(stdout).toContain("Usage: lameduck COMMAND");
  });

  it("starts `run --help` through the image's ENTRYPOINT arguments", async () => {
    const { args } = entrypoint();
    expect(args).toEqual(["run"]);
    const { stdout } = await startImage([...args, "--help"]);
    expect(stdout).toContain("Usage: lameduck run [flags]");
  });

  it("carries static hooks for both architectures", () => {
    // ELF e_machine at offset 18: 62 is x86-64, 183 is AArch64.
    const machine = (file: string): number => readFileSync(join(image, runtime.workdir, "dist", file)).readUInt16LE(18);
    expect(machine("hook-amd64")).toBe(62);
    expect(machine("hook-arm64")).toBe(183);
  });
});
