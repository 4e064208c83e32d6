// The CLI as one artifact: dist/lameduck-VERSION.tgz, an npm package holding the bundle, the hooks
// this build compiled (so that installing it needs no C toolchain) and the launcher behind the
// `lameduck` and `kubectl-lameduck` commands. Its only dependency, optional, is the `node` package
// (Node.js 24, as this repository gets it): the launcher runs the bundle with it when the `node` on
// the PATH is older than 22.19. No `engines` field, which npm on an old Node would only warn about.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function field(file: string, key: string): string {
  const value: unknown = (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)[key];
  if (typeof value !== "string") throw new Error(`${file} has no ${key}`);
  return value;
}

/** Builds dist/lameduck-VERSION.tgz from the files in `dist`; returns its path. */
export function pack(root: string, dist: string): string {
  const version = field(join(root, "package.json"), "version");
  const stage = join(dist, "package");
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, "bin"), { recursive: true });
  mkdirSync(join(stage, "dist"), { recursive: true });
  const launcher = join(stage, "bin", "lameduck.cjs");
  copyFileSync(join(root, "build", "launcher.cjs"), launcher);
  chmodSync(launcher, 0o755);
  for (const file of ["lameduck.mjs", "hook-amd64", "hook-arm64"]) copyFileSync(join(dist, file), join(stage, "dist", file));
  // The image's build stage copies no README; its tarball, unused there, goes without.
  if (existsSync(join(root, "README.md"))) copyFileSync(join(root, "README.md"), join(stage, "README.md"));
  const manifest = {
    name: "lameduck",
    version,
    description: field(join(root, "package.json"), "description"),
    license: field(join(root, "package.json"), "license"),
    bin: { lameduck: "bin/lameduck.cjs", "kubectl-lameduck": "bin/lameduck.cjs" },
    files: ["bin/", "dist/"],
    optionalDependencies: { node: field(join(root, "node_modules", "node", "package.json"), "version") },
  };
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", dist], { cwd: stage, encoding: "utf8" }).trim();
  rmSync(stage, { recursive: true, force: true });
  return join(dist, out.split("\n").at(-1) ?? "");
}
