import { describe, expect, it } from "vitest";
import { makePodInfo, runHook } from "./run.ts";

describe("the hook's command line", () => {
  it("prints the whole contract on --help, exit codes included, and exits 0", async () => {
    const run = await runHook(["--help"], { noLog: true });
    expect(run.code).toBe(0);
    for (const part of [
      "hook sleep DURATION",
      "hook wait --oracle=HOST:PORT --max=DURATION",
      "GET /v1/pods/<uid>/drain?wait=<seconds> HTTP/1.1",
      "--settle=DURATION",
      "(default 2s)",
      "(default 10s)",
      "(default /.lameduck)",
      "(default /proc;",
      "any other DIR: its tables, never netlink",
      "Sockets: read every 100ms over netlink (sock_diag)",
      "--drain",
      "Drain phase (--drain)",
      "08 close-wait (the client sent FIN",
      "drain phase C[ cut short by max]",
      "--log=PATH",
      "serving",
      "drained",
      "unselected",
      "Exit status:",
      "0  the wait is over",
      "2  usage error",
    ]) {
      expect(run.stdout).toContain(part);
    }
    expect(run.stderr).toBe("");
  });

  it.concurrent.each([
    [[], "a mode is required"],
    [["nap", "5s"], 'mode: "nap" is not sleep or wait'],
    [["sleep"], "sleep needs a DURATION"],
    [["sleep", "abc"], 'sleep: "abc" is not a duration'],
    [["sleep", "1.5s"], 'sleep: "1.5s" is not a duration'],
    [["sleep", "25h"], 'sleep: "25h" is longer than 24h'],
    [["sleep", "1s", "2s"], 'sleep: "2s" is not a duration or --log=PATH'],
    [["wait", "--max=30s"], "--oracle is required"],
    [["wait", "--oracle=10.96.0.1:8080"], "--max is required"],
    [["wait", "--oracle=10.96.0.1:8080", "--max=abc"], 'hook: --max: "abc" is not a duration'],
    [["wait", "--oracle=10.96.0.1:8080", "--max=30s", "--settle=-1s"], '--settle: "-1s" is not a duration'],
    [["wait", "--oracle=10.96.0.1:8080", "--max=30s", "--quiet=2x"], '--quiet: "2x" is not a duration'],
    [["wait", "--oracle=10.96.0.1:8080", "--max=30s", "--fallback=9999999999"], '--fallback: "9999999999" is not a duration'],
    [["wait", "--oracle=10.96.0.1", "--max=30s"], '--oracle: "10.96.0.1" is not IPv4:PORT or [IPv6]:PORT'],
    [["wait", "--oracle=oracle.lameduck-system:8080", "--max=30s"], '--oracle: "oracle.lameduck-system:8080"'],
    [["wait", "--oracle=fd00::1:8080", "--max=30s"], '--oracle: "fd00::1:8080"'],
    [["wait", "--oracle=10.96.0.1:0", "--max=30s"], '--oracle: "10.96.0.1:0"'],
    [["wait", "--oracle=10.96.0.1:65536", "--max=30s"], '--oracle: "10.96.0.1:65536"'],
    [["wait", "--oracle=10.96.0.1:8080", "--max=30s", "--podinfo="], '--podinfo: "" is not a usable directory'],
    [["wait", "--oracle=10.96.0.1:8080", "--max=30s", "--settle"], 'wait: "--settle" is not an option of wait'],
    [["wait", "--oracle=10.96.0.1:8080", "--max=30s", "extra"], 'wait: "extra" is not an option of wait'],
    [["wait", "--oracle=10.96.0.1:8080", "--max=30s", "--log="], '--log: "" is empty'],
    [["wait", "--oracle=10.96.0.1:8080", "--max=30s", "--drain=true"], 'wait: "--drain=true" is not an option of wait'],
    [["sleep", "1s", "--drain"], 'sleep: "--drain" is not a duration or --log=PATH'],
  ])("exits 2 naming the bad argument for %j", async (args, message) => {
    const run = await runHook(args, { noLog: true });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr.split("\n").filter((line) => line !== "")).toHaveLength(1);
    expect(run.stdout).toBe("");
  });

  it("accepts an IPv6 literal oracle in brackets", async () => {
    // --max=0: parsing succeeds, then the deadline has already passed, so nothing is dialled.
    const podInfo = makePodInfo("0b7c5d1e-4a2f-4c1e-9d3b-2f6e8a9c1d00");
    const run = await runHook(["wait", "--oracle=[fd00:10:96::7]:8080", "--max=0", `--podinfo=${podInfo.dir}`]);
    podInfo.remove();
    expect(run.code).toBe(0);
    expect(run.log).toMatch(/^lameduck: max reached, oracle not asked, released at 0\.\d\ds of max 0\n$/);
  });
});
