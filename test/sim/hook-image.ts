// The hook image as a node would pull it: the Dockerfile's `hook` stage (FROM scratch, its COPY lines
// with their --chmod) laid out in a directory for one architecture, from the files the build made.
// The simulated kubelet mounts that directory for an image volume of the reference it was built
// for, the way a runtime mounts the image's root filesystem read-only. There is no Docker engine
// here; test/ops/hook-image.test.ts checks the stage itself against the build's outputs.
import { chmod, copyFile, mkdir } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDockerfile } from "../ops/dockerfile.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** The architectures the build makes hooks for, as BuildKit's TARGETARCH names them. */
export const imageArchs = ["amd64", "arm64"] as const;
export type ImageArch = (typeof imageArchs)[number];

/** This machine's architecture as a node would report it (kubernetes.io/arch). */
export function nodeArch(): ImageArch {
  if (process.arch === "x64") return "amd64";
  if (process.arch === "arm64") return "arm64";
  throw new Error(`no hook is built for ${process.arch}`);
}

/**
 * Lays out the `hook` stage for `arch` under `dir`: each COPY --from=build of the stage, its source
 * (a path in the build stage, /src/dist/…) taken from `distDir`, its mode from --chmod.
 */
export async function layOutHookImage(dir: string, arch: ImageArch, distDir = join(root, "dist")): Promise<string> {
  const stages = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
  const stage = stages.find((s) => s.name === "hook");
  const build = stages.find((s) => s.name === "build");
  if (stage === undefined || build === undefined) throw new Error("Dockerfile has no hook or build stage");
  if (stage.image !== "scratch") throw new Error(`the hook stage is FROM ${stage.image}, not scratch`);
  const dist = posix.join(build.workdir, "dist");
  for (const copy of stage.copies) {
    if (copy.from !== "build") throw new Error(`the hook stage copies from ${String(copy.from)}, not the build stage`);
    for (const source of copy.sources) {
      const file = source.replaceAll("${TARGETARCH}", arch);
      const rel = posix.relative(dist, file);
      if (rel.startsWith("..") || posix.isAbsolute(rel)) throw new Error(`the hook stage copies ${file}, which is not a build output under ${dist}`);
      const target = join(dir, copy.destination);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(join(distDir, rel), target);
      await chmod(target, copy.chmod === undefined ? 0o644 : Number.parseInt(copy.chmod, 8));
    }
  }
  return dir;
}

/** A registry for the simulated kubelet: image reference → the root filesystem for its node's architecture. */
export type ImageStore = (reference: string) => string | undefined;

/** The hook image under `reference`, laid out for this machine's architecture in `dir`. */
export async function hookImageStore(dir: string, reference: string): Promise<ImageStore> {
  const layout = await layOutHookImage(join(dir, nodeArch()), nodeArch());
  return (ref) => (ref === reference ? layout : undefined);
}
