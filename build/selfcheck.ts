// The hook's self-check (`npm run selfcheck`; `npm run demo` until the local demo exists): runs
// both built binaries — arm64 under qemu-user-static — through --help, `sleep 0` and a wait
// against a loopback oracle that answers `serving`, then `drained`, and prints a short report.
// Exits 1 if anything is off.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arches = ["amd64", "arm64"] as const;

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function run(arch: (typeof arches)[number], args: readonly string[]): Promise<Outcome> {
  const binary = join(root, "dist", `hook-${arch}`);
  const [command, argv] = arch === "arm64" ? ["qemu-aarch64-static", [binary, ...args]] : [binary, [...args]];
  const start = performance.now();
  return new Promise((resolve) => {
    execFile(command, argv, { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr, ms: performance.now() - start });
    });
  });
}

/** "static" when the ELF has neither an interpreter (PT_INTERP) nor a dynamic section (PT_DYNAMIC). */
function linkage(path: string): string {
  const elf = readFileSync(path);
  if (elf.subarray(0, 4).toString("latin1") !== "\x7fELF") return "not an ELF file";
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  const types = Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) => elf.readUInt32LE(phoff + i * size));
  return types.includes(3) || types.includes(2) ? "dynamic" : "static";
}

const work = mkdtempSync(join(tmpdir(), "lameduck-selfcheck-"));
mkdirSync(join(work, "pod"));
writeFileSync(join(work, "pod", "uid"), "5e1fc4ec-0000-4000-8000-000000000001");

let asks = 0;
const oracle = createServer((request, response) => {
  asks += 1;
  const body = request.url?.startsWith("/v1/pods/5e1fc4ec-") === true ? (asks % 2 === 1 ? "serving\n" : "drained ports=\n") : "bad path\n";
  setTimeout(() => response.end(body), 100);
});
await new Promise<void>((resolve) => oracle.listen(0, "127.0.0.1", resolve));
const address = oracle.address();
if (address === null || typeof address === "string") throw new Error("selfcheck: the oracle has no TCP address");

let failures = 0;
const check = (ok: boolean, label: string, detail: string): void => {
  if (!ok) failures += 1;
  console.log(`  ${ok ? "ok  " : "FAIL"} ${label.padEnd(24)} ${detail}`);
};

console.log("lameduck hook self-check");
for (const arch of arches) {
  const path = join(root, "dist", `hook-${arch}`);
  const size = statSync(path).size;
  const link = linkage(path);
  console.log(`\ndist/hook-${arch}${arch === "arm64" ? " (under qemu-aarch64-static)" : ""}`);
  check(size <= 32 * 1024 && link === "static", "binary", `${size} bytes (${(size / 1024).toFixed(1)} KiB of 32), ${link}`);

  const help = await run(arch, ["--help"]);
  check(help.code === 0 && help.stdout.includes("Exit status:"), "--help", `exit ${help.code}, ${help.stdout.split("\n").length} lines`);

  const log = join(work, `log-${arch}`);
  writeFileSync(log, "");
  const sleep = await run(arch, ["sleep", "0", `--log=${log}`]);
  check(sleep.code === 0, "sleep 0", `exit ${sleep.code} in ${sleep.ms.toFixed(0)} ms: ${readFileSync(log, "utf8").trim()}`);

  writeFileSync(log, "");
  asks = 0;
  const wait = await run(arch, [
    "wait", `--oracle=127.0.0.1:${address.port}`, "--max=10s", "--settle=200ms", `--podinfo=${work}`, `--log=${log}`,
  ]);
  const line = readFileSync(log, "utf8").trim();
  check(wait.code === 0 && asks === 2 && line.startsWith("lameduck: drained after"), "wait (serving, drained)", `exit ${wait.code} after ${asks} asks: ${line}`);
}

oracle.close();
rmSync(work, { recursive: true, force: true });
console.log(failures === 0 ? "\nself-check passed" : `\nself-check FAILED: ${failures} check(s)`);
process.exitCode = failures === 0 ? 0 : 1;
