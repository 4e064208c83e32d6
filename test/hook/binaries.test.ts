import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { answer, sequence, startTestOracle } from "./oracle.ts";
import { Arch, hookBinary, makePodInfo, runHook } from "./run.ts";

const slack = 4000; // qemu-user start-up on a loaded machine
const procFixture = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "proc", "pod");

/** ELF header and program headers: a static executable has no PT_INTERP and no PT_DYNAMIC. */
function elfFacts(path: string): { machine: number; segmentTypes: number[] } {
  const elf = readFileSync(path);
  expect(elf.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const segmentTypes = Array.from({ length: phnum }, (_, i) => elf.readUInt32LE(phoff + i * phentsize));
  return { machine: elf.readUInt16LE(0x12), segmentTypes };
}

describe.each([Arch.amd64, Arch.arm64])("the %s hook binary", (arch) => {
  it("is a static executable for its architecture within the 32 KiB budget", () => {
    const path = hookBinary(arch);
    const { machine, segmentTypes } = elfFacts(path);
    expect(machine).toBe(arch === Arch.amd64 ? 62 : 183); // EM_X86_64, EM_AARCH64
    expect(segmentTypes).not.toContain(3); // PT_INTERP
    expect(segmentTypes).not.toContain(2); // PT_DYNAMIC
    expect(readFileSync(path).length).toBeLessThanOrEqual(32 * 1024);
  });

  it("prints its contract", async () => {
    const run = await runHook(["--help"], { arch, noLog: true });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("hook wait --oracle=HOST:PORT --max=DURATION");
  });

  it("sleeps", async () => {
    const run = await runHook(["sleep", "300ms"], { arch });
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(300);
    expect(run.log).toMatch(/^lameduck: slept 300ms, released at 0\.[3-9]\ds\n$/);
  });

  it("rejects a bad duration with exit 2", async () => {
    const run = await runHook(["sleep", "soon"], { arch, noLog: true });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('sleep: "soon" is not a duration');
  });

  it.each([
    ["serving then drained", ["serving", "drained ports= node=10.0.0.7"], /^lameduck: drained after \d\.\d\ds, no serving ports, released at \d\.\d\ds/],
    ["unselected", ["unselected"], /^lameduck: unselected \(no Service routes to this pod\), released at \d\.\d\ds of max 10s\n$/],
    ["unselected with a reason", ["unselected reason=not-deleted"], /^lameduck: unselected reason=not-deleted, released at \d\.\d\ds of max 10s\n$/],
  ])("waits against the oracle: %s", async (_name, bodies, expected) => {
    const oracle = await startTestOracle(sequence(...bodies.map((body) => answer(body, 50))));
    const podInfo = makePodInfo("c0ffee00-1111-2222-3333-444455556666");
    try {
      const run = await runHook(
        ["wait", `--oracle=${oracle.address}`, "--max=10s", "--settle=300ms", `--podinfo=${podInfo.dir}`],
        { arch },
      );
      expect(run.code).toBe(0);
      expect(run.elapsedMs).toBeLessThan(300 + slack);
      expect(run.log).toMatch(expected);
      expect(oracle.requests).toHaveLength(bodies.length);
    } finally {
      podInfo.remove();
      await oracle.close();
    }
  });

  it("refuses a FIFO as pod/uid instead of blocking on it", async () => {
    const podInfo = makePodInfo(undefined);
    try {
      execFileSync("mkfifo", [join(podInfo.dir, "pod", "uid")]);
      const run = await runHook(["wait", "--oracle=127.0.0.1:1", "--max=5s", "--fallback=0", `--podinfo=${podInfo.dir}`], { arch, killAfterMs: 10_000 });
      expect(run.code).toBe(0);
      expect(run.log).toContain("pod/uid: not a regular file); fallback sleep, released at");
    } finally {
      podInfo.remove();
    }
  });

  it("reads the /proc/net/tcp fixtures in its quiet phase", async () => {
    const oracle = await startTestOracle(sequence(answer("drained ports=8080,8443 node=10.0.0.7")));
    const podInfo = makePodInfo("c0ffee00-1111-2222-3333-444455556666");
    try {
      const run = await runHook(
        ["wait", `--oracle=${oracle.address}`, "--max=10s", "--settle=0", "--quiet=300ms", `--podinfo=${podInfo.dir}`, `--proc=${procFixture}`],
        { arch },
      );
      expect(run.code).toBe(0);
      expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, quiet after \d\.\d\ds, 4 connections open, released at \d\.\d\ds of max 10s\n$/);
    } finally {
      podInfo.remove();
      await oracle.close();
    }
  });

  it("counts the open connections of the draining fixtures in its drain phase", async () => {
    const oracle = await startTestOracle(sequence(answer("drained ports=8080,8443 node=10.0.0.7")));
    const podInfo = makePodInfo("c0ffee00-1111-2222-3333-444455556666");
    try {
      const run = await runHook(
        ["wait", `--oracle=${oracle.address}`, "--max=2s", "--settle=0", "--quiet=300ms", "--drain", `--podinfo=${podInfo.dir}`, `--proc=${join(procFixture, "..", "draining")}`],
        { arch },
      );
      expect(run.code).toBe(0);
      expect(run.log).toMatch(/, quiet after \d\.\d\ds, drain phase \d\.\d\ds cut short by max, 3 connections open, released at 2\.\d\ds of max 2s\n$/);
    } finally {
      podInfo.remove();
      await oracle.close();
    }
  });
});
