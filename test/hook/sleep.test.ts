import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runHook } from "./run.ts";

// Lower bounds are exact (a sleep must never be short); upper bounds leave room for process start
// on a loaded machine. Precise start-up figures are in `npm run bench`.
describe("hook sleep", () => {
  it.concurrent("sleeps 1500ms, not less, then logs and exits 0", async () => {
    const run = await runHook(["sleep", "1500ms"]);
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1500);
    expect(run.elapsedMs).toBeLessThan(3500);
    expect(run.log).toMatch(/^lameduck: slept 1500ms, released at 1\.[5-9]\ds\n$/);
  });

  it.concurrent("reads a bare number as seconds", async () => {
    const run = await runHook(["sleep", "1"]);
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1000);
    expect(run.log).toMatch(/^lameduck: slept 1, released at 1\.\d\ds\n$/);
  });

  it.concurrent("accepts minutes and hours with a zero count and returns at once", async () => {
    for (const duration of ["0", "0m", "0h", "0ms"]) {
      const run = await runHook(["sleep", duration]);
      expect(run.code).toBe(0);
      expect(run.elapsedMs).toBeLessThan(2000);
    }
  });

  it.concurrent("writes the summary line to stderr when the log target cannot be opened", async () => {
    const run = await runHook(["sleep", "0", "--log=/nonexistent-dir/log"], { noLog: true });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^lameduck: slept 0, released at \d\.\d\ds\n$/);
  });

  it.concurrent("appends to its log target instead of overwriting what the container already logged", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lameduck-log-"));
    const log = join(dir, "main-process-output");
    writeFileSync(log, "app: listening on :8080\napp: ready\n");
    try {
      const run = await runHook(["sleep", "0", `--log=${log}`], { noLog: true });
      expect(run.code).toBe(0);
      expect(readFileSync(log, "utf8")).toMatch(/^app: listening on :8080\napp: ready\nlameduck: slept 0, released at \d\.\d\ds\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
