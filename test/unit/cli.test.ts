import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const bundle = join(import.meta.dirname, "..", "..", "dist", "lameduck.mjs");
const run = (...args: string[]) => spawnSync(process.execPath, [bundle, ...args], { encoding: "utf8", timeout: 10_000 });

describe("the lameduck bundle", () => {
  it("prints its version", () => {
    const result = run("--version");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^lameduck \d+\.\d+\.\d+/);
  });
  it("explains itself with --help and exits 0", () => {
    const result = run("--help");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("Usage: lameduck COMMAND");
  });
  it("rejects an unknown command with exit 2 and names it", () => {
    const result = run("frobnicate");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
  });
  it("names a bad run flag and exits 2", () => {
    const result = run("run", "--max=soon");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--max");
  });
});
