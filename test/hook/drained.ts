// The quiet and drain phases' tests: a hook whose oracle answers one body (a `drained ...` line)
// and that reads its sockets from a given procfs (/proc: over netlink first; any other: its
// tables). Tests run concurrently: each one's servers and directories are removed when it finishes.
import { join } from "node:path";
import type { TestContext } from "vitest";
import { answer, sequence, startTestOracle, type TestOracle } from "./oracle.ts";
import { copyProcFixture, type ProcDir } from "./procnet.ts";
import { makePodInfo, runHook, type HookRun, type RunOptions } from "./run.ts";

const fixtures = join(import.meta.dirname, "..", "fixtures", "proc");

/** Starts `hook wait` with `flags`; `oracle.requests` shows when it has asked (and so been answered). */
export async function startWait(
  context: TestContext, body: string, flags: readonly string[], options: RunOptions = {},
): Promise<{ oracle: TestOracle; run: Promise<HookRun> }> {
  const oracle = await startTestOracle(sequence(answer(body)));
  context.onTestFinished(() => oracle.close());
  const podInfo = makePodInfo("7d0c9f3a-2b1e-4c5d-8e6f-0a1b2c3d4e5f");
  context.onTestFinished(() => { podInfo.remove(); });
  return { oracle, run: runHook(["wait", `--oracle=${oracle.address}`, `--podinfo=${podInfo.dir}`, ...flags], options) };
}

export function startWaitWithProc(
  context: TestContext, proc: string, body: string, ...flags: string[]
): Promise<{ oracle: TestOracle; run: Promise<HookRun> }> {
  return startWait(context, body, [`--proc=${proc}`, ...flags]);
}

export async function waitWithProc(context: TestContext, proc: string, body: string, ...flags: string[]): Promise<HookRun> {
  return (await startWaitWithProc(context, proc, body, ...flags)).run;
}

/** A writable copy of test/fixtures/proc/<name> (see its README). */
export function procCopy(context: TestContext, name: "pod" | "draining"): ProcDir {
  const proc = copyProcFixture(join(fixtures, name));
  context.onTestFinished(() => { proc.remove(); });
  return proc;
}
