// One build entry: the static preStop hooks for amd64 and arm64, and the injector bundle.
// `npm run build` produces exactly the files the container image copies: dist/lameduck.mjs and
// dist/hook-{amd64,arm64}; and from them the CLI's npm package, dist/lameduck-VERSION.tgz (pack.ts).
import { execFileSync } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { pack } from "./pack.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// `--outdir=DIR` builds elsewhere (test/ops/image-layout.test.ts builds into a temporary directory so
// that it never rewrites dist/ under tests that are running its binaries).
const outdirFlag = process.argv.slice(2).find((a) => a.startsWith("--outdir="));
const dist = outdirFlag === undefined ? join(root, "dist") : resolve(outdirFlag.slice("--outdir=".length));

// -Os plus section GC keeps the hook below the 32 KiB budget; no unwind tables (no C++, no
// backtraces wanted in a preStop hook). -z noseparate-code: one read-only segment for code and
// constants instead of page-aligned separate ones, which otherwise pads the file by ~4 KiB.
// -z common-page-size=16: ld page-aligns the data segment in the file, padding it by up to 4 KiB,
// whenever that lets the data and .bss span one 4 KiB page fewer at run time (DATA_SEGMENT_ALIGN;
// the default script uses the common page size for nothing else). Whether it does depends on where
// the code happens to end: 0.7 KiB of padding on amd64 at 26 KB, and a few hundred bytes more code
// made either binary ~4 KiB larger. A 16-byte "page" turns the trade off, for at most one more
// page of address space beside the hook's 88 KiB of .bss.
// -Werror: warnings in a binary that runs in every container are bugs.
export const hookCflags = [
  "-std=c11", "-D_GNU_SOURCE", "-static", "-Os", "-s",
  "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wconversion", "-Wno-sign-conversion",
  "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections",
  "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
  "-Wl,--build-id=none", "-Wl,-z,norelro", "-Wl,-z,noseparate-code", "-Wl,-z,common-page-size=16",
];

const hookTargets = [
  { arch: "amd64", cc: "musl-gcc" },
  { arch: "arm64", cc: "aarch64-linux-musl-gcc" },
] as const;

function buildHooks(): void {
  for (const { arch, cc } of hookTargets) {
    const out = join(dist, `hook-${arch}`);
    execFileSync(cc, [...hookCflags, "-o", out, join(root, "hook", "hook.c")], { stdio: "inherit" });
    console.log(`build: ${out} (${statSync(out).size} bytes)`);
  }
}

async function buildInjector(): Promise<void> {
  const out = join(dist, "lameduck.mjs");
  await build({
    entryPoints: [join(root, "injector", "main.ts")],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    // Some dependencies are CommonJS and call require() for Node built-ins.
    banner: {
      js: [
        "#!/usr/bin/env node",
        "import { createRequire as __lameduckCreateRequire } from 'node:module';",
        "const require = __lameduckCreateRequire(import.meta.url);",
      ].join("\n"),
    },
    define: { LAMEDUCK_VERSION: JSON.stringify(packageVersion()) },
    logLevel: "warning",
  });
  console.log(`build: ${out} (${statSync(out).size} bytes)`);
}

function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  if (typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string") return pkg.version;
  throw new Error("package.json has no version");
}

mkdirSync(dist, { recursive: true });
buildHooks();
await buildInjector();
if (outdirFlag === undefined) {
  const tarball = pack(root, dist);
  console.log(`build: ${tarball} (${statSync(tarball).size} bytes; npm install -g ${tarball})`);
}
