// Runs the real hook binaries from dist/ (built by `npm run build`, which `npm test` runs first):
// amd64 natively, arm64 under qemu-user-static. Every run gets its own log file through --log, so
// that no test writes to this machine's /proc/1/fd/1.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export const Arch = { amd64: "amd64", arm64: "arm64" } as const;
export type Arch = (typeof Arch)[keyof typeof Arch];

export function hookBinary(arch: Arch): string {
  return join(root, "dist", `hook-${arch}`);
}

export interface HookRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to exit, as seen by the test: includes process start (and qemu's, for arm64). */
  readonly elapsedMs: number;
  /** The summary line(s) the hook wrote to its --log file; empty if it wrote none. */
  readonly log: string;
  /** performance.now() at spawn and at exit, to compare with events the test caused. */
  readonly startedAt: number;
  readonly exitedAt: number;
}

export interface RunOptions {
  readonly arch?: Arch;
  /** Kill the hook after this long: a hung hook fails its test instead of hanging the suite. */
  readonly killAfterMs?: number;
  /** Pass no --log (for usage and --help tests, where the hook must not get that far). */
  readonly noLog?: boolean;
  /** A file descriptor of the test's to give the hook as its stderr instead of a pipe the test reads. */
  readonly stderrFd?: number;
  /** The command that runs the binary, given as its arguments (strace; qemu with -strace for arm64). */
  readonly launcher?: readonly string[];
}

export function runHook(args: readonly string[], options: RunOptions = {}): Promise<HookRun> {
  const arch = options.arch ?? Arch.amd64;
  const dir = mkdtempSync(join(tmpdir(), "lameduck-hook-"));
  const logPath = join(dir, "log");
  // The hook appends to its log target but never creates it (/proc/1/fd/1 always exists).
  writeFileSync(logPath, "");
  const fullArgs = options.noLog === true ? [...args] : [...args, `--log=${logPath}`];
  const launcher = options.launcher ?? (arch === Arch.arm64 ? ["qemu-aarch64-static"] : []);
  const argv = [...launcher, hookBinary(arch), ...fullArgs];
  const [command = "", ...commandArgs] = argv;
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", options.stderrFd ?? "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    const killer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 25_000);
    child.on("error", (error) => {
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
      reject(error);
    });
    child.on("close", (code, signal) => {
      const exitedAt = performance.now();
      clearTimeout(killer);
      const log = readFileSync(logPath, "utf8");
      rmSync(dir, { recursive: true, force: true });
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
        elapsedMs: exitedAt - startedAt,
        log,
        startedAt,
        exitedAt,
      });
    });
  });
}

/** A downward-API-like directory holding pod/uid, as the projected volume provides it. */
export interface PodInfo {
  readonly dir: string;
  remove(): void;
}

export function makePodInfo(uid: string | undefined): PodInfo {
  const dir = mkdtempSync(join(tmpdir(), "lameduck-podinfo-"));
  mkdirSync(join(dir, "pod"));
  if (uid !== undefined) writeFileSync(join(dir, "pod", "uid"), uid);
  return { dir, remove: () => { rmSync(dir, { recursive: true, force: true }); } };
}
