// The exit watchdog's watcher process (see watchdog.ts): `node test/sim/watcher.ts --pid=PID
// --name=NAME`, started by the process it watches (PID, its parent), which writes deadlines to its
// stdin, one JSON object a line:
// {"ms": 5000, "reason": "..."}: that process must be gone `ms` from now. When a deadline passes,
// the watcher prints what /proc shows of the process and asks it to stop (SIGTERM); a second later,
// or as soon as it is gone, it kills what is left of it and of the children it had. It ends when the
// process it watches has ended. It signals a process only while that process is provably the one it
// watches: its own parent, which it stays until it ends (a pid alone may name an unrelated process,
// such as init once the parent is gone).
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { childrenOf, describeProcess, killProcesses, statOf, ticksPerSecond, type ProcessId } from "./proctree.ts";

export interface Deadline {
  readonly ms: number;
  readonly reason: string;
}

export function parseDeadline(line: string): Deadline | undefined {
  try {
    const value = JSON.parse(line) as Partial<Deadline>;
    return typeof value.ms === "number" && value.ms >= 0 && typeof value.reason === "string" ? { ms: value.ms, reason: value.reason } : undefined;
  } catch {
    return undefined;
  }
}

const pollMs = 100;
const termGraceMs = 1000;

function main(watched: number, name: string): void {
  // While the watched process runs, it is this process's parent; once it has ended, it is not.
  const watching = (): boolean => watched > 1 && process.ppid === watched;
  if (!watching()) process.exit(0);
  const say = (line: string): void => {
    process.stderr.write(`${name}: ${line}\n`);
  };
  let deadline: { readonly at: number; readonly reason: string } | undefined;
  let pipeClosedAt: number | undefined;
  let fired: { readonly at: number; readonly children: readonly ProcessId[] } | undefined;
  // CPU time samples of the watched process over the last second, to tell spinning from waiting.
  const samples: { readonly at: number; readonly ticks: number }[] = [];

  createInterface({ input: process.stdin })
    .on("line", (line) => {
      const d = parseDeadline(line);
      if (d) deadline = { at: performance.now() + d.ms, reason: d.reason };
    })
    .on("close", () => {
      pipeClosedAt = performance.now();
    });
  // Ctrl-C in a terminal reaches the whole process group; it is for the watched process to handle.
  process.on("SIGINT", () => undefined);

  const fire = (reason: string): void => {
    const now = performance.now();
    say(`exit watchdog: ${reason}`);
    const oldest = samples[0];
    const ticks = statOf(watched)?.cpuTicks;
    if (oldest && ticks !== undefined && now > oldest.at) {
      const busy = (ticks - oldest.ticks) / ticksPerSecond / ((now - oldest.at) / 1000);
      say(`  it used ${(busy * 100).toFixed(0)}% of a core over the last ${((now - oldest.at) / 1000).toFixed(1)} s (state ${statOf(watched)?.state ?? "?"})`);
    }
    if (pipeClosedAt !== undefined) {
      say(`  it closed its handles ${((now - pipeClosedAt) / 1000).toFixed(1)} s ago (its end of this watcher's pipe among them): its JavaScript has ended, but the process has not`);
    }
    for (const line of describeProcess(watched, process.pid)) say(`  ${line}`);
    say(`  stopping it: SIGTERM, then in ${String(termGraceMs / 1000)} s SIGKILL for what is left of it and its children`);
    const children = childrenOf(watched, process.pid);
    // Read while it was still the parent, the list names its children; read after, anything.
    if (!watching()) process.exit(0);
    fired = { at: now, children };
    process.kill(watched, "SIGTERM");
  };

  setInterval(() => {
    const now = performance.now();
    if (fired && (!watching() || now - fired.at >= termGraceMs)) {
      // Each child is named by its pid and start time: still running means still that child.
      const left = killProcesses(fired.children);
      const self = watching();
      if (self) process.kill(watched, "SIGKILL");
      if (left > 0 || self) say(`exit watchdog: killed ${self ? "the process and " : ""}${String(left)} child process(es) still running`);
      process.exit(0);
    }
    if (!watching()) process.exit(0);
    const ticks = statOf(watched)?.cpuTicks;
    if (ticks !== undefined) samples.push({ at: now, ticks });
    while (samples.length > 1000 / pollMs) samples.shift();
    if (!fired && deadline && now >= deadline.at) fire(deadline.reason);
  }, pollMs);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { pid: { type: "string" }, name: { type: "string", default: "watcher" } } });
  const pid = Number(values.pid);
  if (!Number.isInteger(pid)) throw new Error(`watcher: --pid must be the watched process's pid, got ${String(values.pid)}`);
  main(pid, values.name);
}
