// Child processes of the simulation, each in its own process group so that a pod's app, a running
// preStop hook or the controller can be signalled as a whole, and so that everything still running
// is killed when the simulation ends, also on Ctrl-C.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

export interface Children {
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Signals the child's whole process group; false when it is already gone. */
  signal(child: ChildProcess, signal: NodeJS.Signals): boolean;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  exited(child: ChildProcess): Promise<number | string>;
  killAll(): void;
  readonly size: number;
}

export function makeChildren(): Children {
  const live = new Set<ChildProcess>();
  const signal = (child: ChildProcess, sig: NodeJS.Signals): boolean => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
    try {
      process.kill(-child.pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  return {
    spawn(command, args, options = {}) {
      const child = spawn(command, [...args], { stdio: "ignore", ...options, detached: true });
      live.add(child);
      child.on("exit", () => live.delete(child));
      child.on("error", () => live.delete(child));
      return child;
    },
    signal,
    exited(child) {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      if (child.signalCode !== null) return Promise.resolve(child.signalCode);
      return new Promise((resolve) => {
        child.once("exit", (code, sig) => { resolve(code ?? sig ?? "unknown"); });
        child.once("error", (err) => { resolve(err.message); });
      });
    },
    killAll() {
      for (const child of live) signal(child, "SIGKILL");
    },
    get size() {
      return live.size;
    },
  };
}

/**
 * Kills every child (and runs `alsoOnExit`, which must be synchronous) when this process ends,
 * normally or by SIGINT/SIGTERM; returns the remover.
 */
export function killChildrenOnExit(children: Children, alsoOnExit: () => void = () => undefined): () => void {
  const onExit = (): void => {
    children.killAll();
    alsoOnExit();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    onExit();
    process.exitCode = sig === "SIGINT" ? 130 : 143;
    process.exit();
  };
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("exit", onExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
