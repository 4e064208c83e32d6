// Runs the real static hook (dist/hook-amd64, from `npm run build`) as the kubelet would run the
// preStop exec, against an oracle on loopback, with the pod's uid in its own podinfo directory.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const hookBinary = join(fileURLToPath(new URL("../../", import.meta.url)), "dist", "hook-amd64");

export interface HookRun {
  readonly done: Promise<{ code: number | null; ms: number; log: string }>;
}

const children: ChildProcess[] = [];

/** Kills the hooks still running; register with afterEach after withFakeApi, so it runs first. */
export function killHooks(): void {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
}

/** `hook wait --max=<max> --settle=0 --quiet=0 --fallback=1s` for pod `uid`; its log line and how long it took. */
export function runHook(oraclePort: number, uid: string, max = "20s"): HookRun {
  const dir = mkdtempSync(join(tmpdir(), "lameduck-podinfo-"));
  mkdirSync(join(dir, "pod"));
  writeFileSync(join(dir, "pod", "uid"), uid);
  const log = join(dir, "hook.log");
  // The hook appends to an existing file (as to /proc/1/fd/1); it does not create one.
  writeFileSync(log, "");
  const started = Date.now();
  const child = spawn(hookBinary, ["wait", `--oracle=127.0.0.1:${oraclePort}`, `--max=${max}`, "--settle=0", "--quiet=0", "--fallback=1s", `--podinfo=${dir}`, `--log=${log}`], {
    stdio: "ignore",
  });
  children.push(child);
  return {
    done: new Promise((resolve) => {
      child.on("exit", (code) => {
        resolve({ code, ms: Date.now() - started, log: existsSync(log) ? readFileSync(log, "utf8") : "" });
      });
    }),
  };
}
