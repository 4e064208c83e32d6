// The hook image's layout as the Dockerfile's `hook` stage makes it from the build's outputs, per
// architecture: one file, /hook, mode 0555, the static hook of that architecture. (Which files the
// build makes, and that the controller image carries the same hooks: test/ops/image-layout.test.ts
// and test/ops/hook-image.test.ts.)
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hookImageStore, imageArchs, layOutHookImage, nodeArch } from "./hook-image.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
let work = "";
let dist = "";

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "lameduck-hook-image-"));
  dist = join(work, "dist");
  // A fresh build, not whatever dist/ holds: the layout is the build's.
  await run(process.execPath, [join(root, "build", "build.ts"), `--outdir=${dist}`], { cwd: root, timeout: 120_000 });
}, 180_000);

afterAll(async () => {
  if (work !== "") await rm(work, { recursive: true, force: true });
});

describe("the hook image layout", () => {
  // ELF e_machine at offset 18: 62 is x86-64, 183 is AArch64.
  const machine = { amd64: 62, arm64: 183 } as const;

  it.each(imageArchs)("for %s holds only /hook, mode 0555, the static hook of that architecture", async (arch) => {
    const dir = await layOutHookImage(join(work, "image", arch), arch, dist);
    expect(await readdir(dir)).toEqual(["hook"]);
    const hook = join(dir, "hook");
    expect((await stat(hook)).mode & 0o7777).toBe(0o555);
    expect((await readFile(hook)).readUInt16LE(18)).toBe(machine[arch]);
    expect(await readFile(hook)).toEqual(await readFile(join(dist, `hook-${arch}`)));
  });

  it("is what the node pulls for its architecture, and nothing else under another reference", async () => {
    expect(existsSync(join(root, "dist", `hook-${nodeArch()}`)), "dist/ is built (npm test builds it first)").toBe(true);
    const images = await hookImageStore(join(work, "store"), "registry.sim/lameduck-hook:1");
    const layout = images("registry.sim/lameduck-hook:1");
    expect(layout).toBe(join(work, "store", nodeArch()));
    const { stdout } = await run(join(layout ?? "", "hook"), ["--help"]);
    expect(stdout).toContain("usage: hook sleep DURATION");
    expect(images("registry.sim/lameduck-hook:2")).toBeUndefined();
  });
});
