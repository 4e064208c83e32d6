// An exit watchdog that what it guards cannot hold back: a watcher process (watcher.ts), outside
// this process's event loop and outside its threads. Neither a timer in this process nor one in a
// worker thread would do: the demo's hang (issue 18) came after its JavaScript had ended, in Node's
// teardown, which stops worker threads first and then spun forever waiting for a socket handle
// that was never going to close (proxy.ts, resetOrClose). Each deadline carries what this process
// still had open when it was set, and, when its 'exit' event runs, a last one: gone within
// `exitMs`. The watcher never keeps this process alive.
import { spawn } from "node:child_process";
import { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { counted } from "./proctree.ts";
import type { Deadline } from "./watcher.ts";

const watcherPath = fileURLToPath(new URL("./watcher.ts", import.meta.url));

export interface ExitWatchdog {
  /** This process must have ended `ms` from now; if not, the watcher reports what it sees and stops it. */
  deadline(ms: number, reason: string): void;
}

export function startExitWatchdog(name: string, exitMs: number): ExitWatchdog {
  const watcher = spawn(process.execPath, [watcherPath, `--pid=${String(process.pid)}`, `--name=${name}`], { stdio: ["pipe", "ignore", "inherit"] });
  watcher.unref();
  watcher.on("error", (err) => {
    process.stderr.write(`${name}: the exit watchdog did not start: ${err.message}\n`);
  });
  const { stdin } = watcher;
  if (stdin instanceof Socket) stdin.unref();
  // A watcher that died must not take this process with it (EPIPE).
  stdin.on("error", () => undefined);
  const send = (ms: number, reason: string): void => {
    const open = counted(process.getActiveResourcesInfo());
    const line: Deadline = { ms, reason: `${reason}; open when that deadline was set: ${open === "" ? "nothing" : open}` };
    stdin.write(`${JSON.stringify(line)}\n`);
  };
  // A pipe write this small completes at once, as an 'exit' handler's work must.
  process.on("exit", () => {
    send(exitMs, `its 'exit' event ran ${String(exitMs / 1000)} s ago, yet it has not exited`);
  });
  return { deadline: send };
}
