import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { endedWithin } from "./proctree.ts";

const hangs = fileURLToPath(new URL("./hangs.ts", import.meta.url));
const watcher = fileURLToPath(new URL("./watcher.ts", import.meta.url));

interface Ended {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a process to its end; a test's own timeout bounds it, SIGKILL after `limitMs` in any case. */
function run(args: readonly string[], limitMs: number, input?: string): Promise<Ended> {
  const started = performance.now();
  const child = spawn(process.execPath, [...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  if (input !== undefined) child.stdin.write(input);
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

function childOf(out: Ended): number {
  const pid = Number(/^child (\d+)$/m.exec(out.stdout)?.[1]);
  expect(Number.isInteger(pid)).toBe(true);
  return pid;
}

describe("the exit watchdog", () => {
  it("stops a process whose event loop never returns, and says what it saw", async () => {
    const out = await run([hangs, "spin"], 20_000);
    expect(out.signal).toBe("SIGKILL");
    expect(out.stderr).toContain("hangs: exit watchdog: spinning");
    expect(out.stderr).toMatch(/threads: MainThread R/);
    expect(out.stderr).toMatch(/child processes: \d+ \(sleep 60\)/);
    expect(await endedWithin(childOf(out), 2000)).toBe(true);
  }, 30_000);

  it("stops a process stuck in Node's teardown after its 'exit' event, naming the handle it waits for", async () => {
    const out = await run([hangs, "teardown"], 20_000);
    // If this Node.js closes a handle whose reset was refused, the process ends by itself and
    // proxy.ts's resetOrClose guards against a bug that is gone.
    expect(out.stderr).toMatch(/hangs: exit watchdog: its 'exit' event ran 0.5 s ago, yet it has not exited; open when that deadline was set: .*TCPSocketWrap/);
    expect(out.stderr).toContain("its JavaScript has ended, but the process has not");
    // Its signal handlers went with its handles: SIGTERM's default action ends it.
    expect(out.signal).toBe("SIGTERM");
    expect(await endedWithin(childOf(out), 2000)).toBe(true);
  }, 30_000);

  it("leaves a process that ends by itself alone, and ends with it", async () => {
    const out = await run([hangs, "exit"], 20_000);
    expect(out).toMatchObject({ code: 0, signal: null, stderr: "" });
  }, 30_000);

  it("signals nothing when the process it was told to watch is not its parent", async () => {
    // Its parent here is this test process; pid 1 is init. A watcher that trusted the pid would stop init's children.
    const out = await run([watcher, "--pid=1", "--name=test"], 10_000, `${JSON.stringify({ ms: 0, reason: "due" })}\n`);
    expect(out).toMatchObject({ code: 0, signal: null, stderr: "" });
  }, 20_000);
});
