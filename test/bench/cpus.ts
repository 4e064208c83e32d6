// Where a bench's processes run. On a machine of two cores the process measured, the API server that
// feeds it and the load generator would otherwise take turns on the same cores, with their GC threads,
// and a burst would measure the kernel's scheduler: the controller stood still for up to 145 ms with
// no JavaScript running (a gap in its CPU profile). In a cluster the API server runs elsewhere and the
// controller has its own CPU limit (one CPU, manifests/base/deployment.yaml).
import { execFileSync } from "node:child_process";
import { availableParallelism, setPriority } from "node:os";

export interface Placement {
  /** What the report says about it. */
  readonly description: string;
  /** The measured process (and a baseline it is compared with). */
  measured(pid: number): void;
  /** Everything else: the load generator (this process) and the API server. */
  rest(pid: number): void;
  /** The API server: behind the load generator when both want the same CPU. */
  background(pid: number): void;
  /** This process back on every CPU, for the benches that run after. */
  release(): void;
}

function taskset(pid: number, cpus: number | string): boolean {
  try {
    // -a: every thread the process has (V8's GC and compiler threads); threads it starts later inherit.
    execFileSync("taskset", ["-a", "-p", "-c", String(cpus), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function placement(): Placement {
  const cpus = availableParallelism();
  const usable = cpus >= 2 && taskset(process.pid, 0);
  if (!usable) {
    return {
      description: `not pinned (${cpus} CPU${cpus === 1 ? "" : "s"}${cpus >= 2 ? ", no taskset" : ""}): all processes share the machine`,
      measured: () => undefined,
      rest: () => undefined,
      background: (pid) => { setPriority(pid, 10); },
      release: () => undefined,
    };
  }
  return {
    description: "the measured process on CPU 1 alone (its Deployment's limit is one CPU); the load generator and the API server (nice 10) on CPU 0",
    measured: (pid) => { if (!taskset(pid, 1)) throw new Error(`bench: could not pin process ${pid} to CPU 1`); },
    rest: (pid) => { if (!taskset(pid, 0)) throw new Error(`bench: could not pin process ${pid} to CPU 0`); },
    background: (pid) => {
      if (!taskset(pid, 0)) throw new Error(`bench: could not pin process ${pid} to CPU 0`);
      setPriority(pid, 10);
    },
    release: () => { taskset(process.pid, `0-${cpus - 1}`); },
  };
}
