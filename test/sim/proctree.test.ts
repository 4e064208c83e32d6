import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { childrenOf, endedWithin, killProcesses, parseProcAddress, parseStat, statOf } from "./proctree.ts";

describe("reading /proc", () => {
  it("parses a stat line whose command name holds spaces and parentheses", () => {
    const line = "4242 (my (odd) name) R 17 4242 4242 0 -1 4194304 98 0 0 0 150 25 0 0 20 0 1 0 226468 3133440 380";
    expect(parseStat(line)).toEqual({ name: "my (odd) name", state: "R", ppid: 17, cpuTicks: 175, startTicks: 226468 });
    expect(parseStat("garbage")).toBeUndefined();
  });

  it("reads /proc/net/tcp addresses, IPv4 and IPv6", () => {
    expect(parseProcAddress("0100007F:1F90")).toBe("127.0.0.1:8080");
    expect(parseProcAddress("00000000000000000000000001000000:0050")).toBe("0000:0000:0000:0000:0000:0000:0000:0001:80");
  });

  it("kills a child with its process group, and only the process it named", async () => {
    const a = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    const b = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    try {
      const listed = childrenOf(process.pid, -1);
      const [ida, idb] = [listed.find((p) => p.pid === a.pid), listed.find((p) => p.pid === b.pid)];
      if (!ida || !idb) throw new Error("the children are not listed");
      // A pid with another start time is another process that got the same number: left alone.
      expect(killProcesses([ida, { pid: idb.pid, startTicks: idb.startTicks + 1 }])).toBe(1);
      expect(await endedWithin(ida.pid, 2000)).toBe(true);
      expect(statOf(idb.pid)?.state).not.toBe("Z");
    } finally {
      a.kill("SIGKILL");
      b.kill("SIGKILL");
    }
  });
});
