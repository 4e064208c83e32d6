// Nothing but --max decides when the hook returns: not a FIFO where it expects a file, not a full
// pipe where it writes its line. Each hook here would block for ever without the fix, so each run
// is killed well after its --max (killAfterMs) and the test then fails instead of hanging.
import { execFileSync } from "node:child_process";
import { closeSync, constants, cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, type TestContext } from "vitest";
import { answer, closedPort, sequence, startTestOracle } from "./oracle.ts";
import { writeLongTable } from "./procnet.ts";
import { makePodInfo, runHook, type PodInfo } from "./run.ts";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "proc", "pod");
const uid = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const slack = 2500;
const killAfterMs = 10_000;

function tempDir(context: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "lameduck-block-"));
  context.onTestFinished(() => { rmSync(dir, { recursive: true, force: true }); });
  return dir;
}

function mkfifo(path: string): string {
  execFileSync("mkfifo", [path]);
  return path;
}

function openFd(context: TestContext, path: string, flags: number): number {
  const fd = openSync(path, flags);
  context.onTestFinished(() => { closeSync(fd); });
  return fd;
}

/**
 * A FIFO with a reader that never reads, filled until a write would block. Returns a blocking
 * write end: what a process inherits when whoever reads its output has stalled.
 */
function fullPipe(context: TestContext, dir: string): { path: string; writer: number } {
  const path = mkfifo(join(dir, "full"));
  openFd(context, path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openFd(context, path, constants.O_WRONLY);
  const filler = openFd(context, path, constants.O_WRONLY | constants.O_NONBLOCK);
  for (const size of [4096, 1]) {
    const chunk = Buffer.alloc(size, "x");
    for (let i = 0; i < 1024; i++) {
      try {
        writeSync(filler, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") break;
        throw error;
      }
    }
  }
  return { path, writer };
}

/** The O_NONBLOCK bit of one of this process's descriptors, from /proc/self/fdinfo. */
function nonBlocking(fd: number): boolean {
  const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
  if (flags === undefined) throw new Error(`no flags in /proc/self/fdinfo/${fd}`);
  return (parseInt(flags, 8) & constants.O_NONBLOCK) !== 0;
}

describe.concurrent("nothing but --max decides when the hook returns", () => {
  it.for<[string, (context: TestContext, path: string) => void]>([
    ["a FIFO that nobody writes", () => undefined],
    // O_RDWR opens a FIFO without waiting and holds a writer that never writes.
    ["a FIFO held open by a writer that never writes", (context, path) => { openFd(context, path, constants.O_RDWR); }],
  ])("falls back when pod/uid is %s, instead of blocking in open or read", async ([, hold], context) => {
    const oracle = await startTestOracle(sequence(answer("unselected")));
    context.onTestFinished(() => oracle.close());
    const dir = tempDir(context);
    execFileSync("mkdir", [join(dir, "pod")]);
    hold(context, mkfifo(join(dir, "pod", "uid")));
    const run = await runHook(["wait", `--oracle=${oracle.address}`, "--max=3s", "--fallback=500ms", `--podinfo=${dir}`], { killAfterMs });
    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    expect(oracle.requests).toHaveLength(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(500);
    expect(run.elapsedMs).toBeLessThan(500 + slack);
    expect(run.log).toMatch(new RegExp(`^lameduck: no pod UID \\(${dir}/pod/uid: not a regular file\\); fallback sleep, released at 0\\.\\d\\ds of max 3s\\n$`));
  });

  it.for<[string, "tcp" | "tcp6"]>([
    ["net/tcp", "tcp"],
    ["net/tcp6", "tcp6"],
  ])("skips the quiet phase when %s is a FIFO, instead of blocking on it", async ([, table], context) => {
    const oracle = await startTestOracle(sequence(answer("drained ports=8080 node=10.0.0.7")));
    context.onTestFinished(() => oracle.close());
    const podInfo = makePodInfo(uid);
    context.onTestFinished(() => { podInfo.remove(); });
    const proc = tempDir(context);
    cpSync(fixture, proc, { recursive: true });
    rmSync(join(proc, "net", table));
    mkfifo(join(proc, "net", table));
    const run = await runHook(
      ["wait", `--oracle=${oracle.address}`, "--max=5s", "--settle=300ms", "--quiet=5s", `--podinfo=${podInfo.dir}`, `--proc=${proc}`],
      { killAfterMs },
    );
    expect(run.signal).toBeNull();
    expect(run.elapsedMs).toBeGreaterThanOrEqual(300);
    expect(run.elapsedMs).toBeLessThan(300 + slack);
    expect(run.log).toContain(`quiet phase skipped (${proc}/net/${table}: not a regular file), released at`);
  });

  it("drops a reading of the tables that --max interrupts instead of finishing it", async (context) => {
    // 600,000 sockets on the last of 64 serving ports: one reading takes 0.15 s (an idle machine)
    // to 0.5 s (a loaded one) here, the way a node with tens of thousands of sockets makes the
    // kernel's own tables slow to read.
    const proc = tempDir(context);
    cpSync(fixture, proc, { recursive: true });
    const header = readFileSync(join(fixture, "net", "tcp"), "utf8").split("\n")[0] ?? "";
    writeLongTable(join(proc, "net", "tcp"), `${header}\n`, "   0: 0501F40A:1F90 0902F40A:C822 01", 600_000);
    const ports = Array.from({ length: 63 }, (_, i) => i + 1).join(",");
    const oracle = await startTestOracle(sequence(answer(`drained ports=${ports},8080 node=10.0.0.7`, 500)));
    context.onTestFinished(() => oracle.close());
    const podInfo = makePodInfo(uid);
    context.onTestFinished(() => { podInfo.remove(); });
    // The drained answer comes at about 0.5 s, so the first reading is still going at --max, 50 ms
    // later. (With --max=700ms an idle machine finished it in time, and counted 600,001.)
    const run = await runHook(
      ["wait", `--oracle=${oracle.address}`, "--max=550ms", "--settle=0", "--quiet=5s", `--podinfo=${podInfo.dir}`, `--proc=${proc}`],
      { killAfterMs },
    );
    expect(run.code).toBe(0);
    expect(run.log).toMatch(/^lameduck: drained after 0\.5\ds, max reached while settling, connections not counted, released at 0\.5[5-9]s of max 550ms\n$/);
  });

  it("writes its line to stderr when --log is a FIFO whose reader has stopped reading", async (context) => {
    const { path } = fullPipe(context, tempDir(context));
    const run = await runHook(["sleep", "0", `--log=${path}`], { noLog: true, killAfterMs });
    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeLessThan(slack);
    expect(run.stderr).toMatch(/^lameduck: slept 0, released at \d\.\d\ds\n$/);
  });

  it("writes its line to stderr when --log is a FIFO with no reader", async (context) => {
    const path = mkfifo(join(tempDir(context), "unread"));
    const run = await runHook(["sleep", "0", `--log=${path}`], { noLog: true, killAfterMs });
    expect(run.signal).toBeNull();
    expect(run.stderr).toMatch(/^lameduck: slept 0, released at \d\.\d\ds\n$/);
  });

  it("returns by --max when its stderr is a full pipe, drops the line and leaves the pipe blocking", async (context) => {
    const dir = tempDir(context);
    const { writer } = fullPipe(context, dir);
    const port = await closedPort();
    const podInfo: PodInfo = makePodInfo(uid);
    context.onTestFinished(() => { podInfo.remove(); });
    // The oracle is unreachable and --log cannot be opened: the summary line can only go to stderr.
    const run = await runHook(
      ["wait", `--oracle=127.0.0.1:${port}`, "--max=1s", "--fallback=10s", `--podinfo=${podInfo.dir}`, `--log=${join(dir, "missing", "log")}`],
      { noLog: true, stderrFd: writer, killAfterMs },
    );
    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1000);
    expect(run.elapsedMs).toBeLessThan(1000 + slack);
    // The descriptor is shared with this process: the hook put its blocking mode back.
    expect(nonBlocking(writer)).toBe(false);
  });

  it("exits 2 on a usage error when its stderr is a full pipe", async (context) => {
    const { writer } = fullPipe(context, tempDir(context));
    const run = await runHook(["wait", "--max=abc"], { noLog: true, stderrFd: writer, killAfterMs });
    expect(run.signal).toBeNull();
    expect(run.code).toBe(2);
    expect(nonBlocking(writer)).toBe(false);
  });
});
