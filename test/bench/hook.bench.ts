// The hook's figures: binary sizes, memory while waiting and start-to-exit time, each beside
// coreutils `sleep` and a Node script doing the same wait (Node 24, the project's own); and the CPU
// that one reading of the pod's sockets costs, over netlink beside /proc/net/tcp (hook-sockets.ts).
import { spawn } from "node:child_process";
import { readFileSync, statSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { answer, sequence, startTestOracle, type TestOracle } from "../hook/oracle.ts";
import type { SocketsMeasurement } from "./hook-sockets.ts";
import type { BenchReport } from "./report.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const hook = join(root, "dist", "hook-amd64");
const node = process.execPath;
const sizeTarget = 32 * 1024;
const rssTargetKiB = 256;
const startRuns = 200;
const nodeStartRuns = 40; // Node takes ~50 ms a start; fewer runs keep the bench short on a shared machine

/** VmRSS in KiB of a process once `ready` says it is waiting; the process is then killed. */
async function rssWhileWaiting(command: string, args: readonly string[], ready: () => Promise<void>): Promise<number> {
  const child = spawn(command, args, { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.on("close", () => { resolve(); }));
  try {
    await ready();
    if (child.pid === undefined || child.exitCode !== null) throw new Error(`${command} is not running`);
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (match?.[1] === undefined) throw new Error(`no VmRSS for ${command}`);
    return Number(match[1]);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

async function untilAsked(oracle: TestOracle, count: number): Promise<void> {
  for (let i = 0; i < 200 && oracle.requests.length < count; i++) await sleep(25);
  if (oracle.requests.length < count) throw new Error("the oracle was never asked");
  await sleep(200);
}

/** Asynchronous spawns: the loopback oracles live in this process and must keep answering. */
async function medianMs(runs: number, command: string, args: readonly string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(command, args, { stdio: "ignore" });
      child.on("error", reject);
      child.on("close", (status) => { resolve(status); });
    });
    times.push(performance.now() - start);
    if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${code}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? NaN;
}

/** hook-sockets.ts in a network namespace of its own, or in this one if none can be made. */
async function socketsMeasurements(): Promise<{ own: boolean; rows: SocketsMeasurement[] }> {
  const script = [node, join(root, "test", "bench", "hook-sockets.ts")];
  const isolated = await output("unshare", ["-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...script]).catch((error: unknown) => {
    console.error(`bench: no network namespace of its own (${String(error)}); measuring in this one`);
    return undefined;
  });
  const text = isolated ?? await output(node, script.slice(1));
  return { own: isolated !== undefined, rows: text.trim().split("\n").map((line) => JSON.parse(line) as SocketsMeasurement) };
}

function output(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => { if (code === 0) resolve(Buffer.concat(chunks).toString()); else reject(new Error(`${command} exited ${String(code)}`)); });
  });
}

async function readingCost(report: BenchReport): Promise<void> {
  const { own, rows } = await socketsMeasurements();
  report.section(`hook: CPU per reading of the pod's sockets and share of a core while waiting, 4 on the serving port (${own ? "a network namespace of its own" : "this machine's namespace"})`);
  for (const sockets of new Set(rows.map((row) => row.sockets))) {
    const tables = rows.find((row) => row.sockets === sockets && row.reader === "tables");
    const netlink = rows.find((row) => row.sockets === sockets && row.reader === "netlink");
    if (tables === undefined || netlink === undefined) throw new Error(`no pair of measurements at ${sockets} sockets`);
    const label = `${sockets.toLocaleString("en")} sockets`;
    report.row(`${label}, /proc/net/tcp{,6} (${tables.readings} readings)`, tables.cpuUsPerReading, "µs");
    report.row(`${label}, netlink (${netlink.readings} readings)`, netlink.cpuUsPerReading, "µs", { ratio: netlink.cpuUsPerReading / tables.cpuUsPerReading, baseline: "/proc" });
    report.row(`${label}, /proc/net/tcp{,6}: share of a core`, tables.coreShare * 100, "%");
    report.row(`${label}, netlink: share of a core`, netlink.coreShare * 100, "%", { ratio: netlink.coreShare / tables.coreShare, baseline: "/proc" });
  }
  // netlink must earn its code: at least 3× less CPU than the tables with 5,000 sockets around.
  const at5k = rows.filter((row) => row.sockets >= 5_000 && row.sockets < 20_000);
  const t = at5k.find((row) => row.reader === "tables"), n = at5k.find((row) => row.reader === "netlink");
  if (t === undefined || n === undefined) throw new Error("no measurement at 5,000 sockets");
  report.row("netlink CPU / /proc CPU per reading at ~5,000 sockets", n.cpuUsPerReading / t.cpuUsPerReading, "×", { target: 1 / 3 });
}

export async function run(report: BenchReport): Promise<void> {
  report.section("hook: binary size (static, musl)");
  const sizes = { amd64: statSync(hook).size, arm64: statSync(join(root, "dist", "hook-arm64")).size };
  report.row("dist/hook-amd64", sizes.amd64, "bytes", { target: sizeTarget });
  report.row("dist/hook-arm64 (no RSS or start: runs under qemu)", sizes.arm64, "bytes", { target: sizeTarget });

  const work = mkdtempSync(join(tmpdir(), "lameduck-bench-"));
  mkdirSync(join(work, "pod"));
  writeFileSync(join(work, "pod", "uid"), "be4c0000-0000-4000-8000-000000000001");
  const silent = await startTestOracle(sequence({ kind: "silent" }));
  const nodeSilent = await startTestOracle(sequence({ kind: "silent" }));
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const address = listener.address();
  if (address === null || typeof address === "string") throw new Error("no listener address");
  const drained = await startTestOracle(sequence(answer(`drained ports=${address.port}`)));
  const unselected = await startTestOracle(sequence(answer("unselected")));
  const waitArgs = (oracle: TestOracle, ...flags: string[]): string[] =>
    ["wait", `--oracle=${oracle.address}`, "--max=60s", `--podinfo=${work}`, "--log=/dev/null", ...flags];

  try {
    report.section("hook: memory while waiting (VmRSS)");
    const hookSleep = await rssWhileWaiting(hook, ["sleep", "60s", "--log=/dev/null"], () => sleep(300));
    report.row("hook sleep 60s", hookSleep, "KiB", { target: rssTargetKiB });
    const hookPoll = await rssWhileWaiting(hook, waitArgs(silent), () => untilAsked(silent, 1));
    report.row("hook wait, long-poll in flight", hookPoll, "KiB", { target: rssTargetKiB });
    const hookQuiet = await rssWhileWaiting(hook, waitArgs(drained, "--settle=0", "--quiet=60s"), async () => {
      await untilAsked(drained, 1);
      await sleep(500); // several /proc/net/tcp samples taken
    });
    report.row("hook wait, quiet phase reading sockets (netlink)", hookQuiet, "KiB", { target: rssTargetKiB });
    const coreutils = await rssWhileWaiting("sleep", ["60"], () => sleep(300));
    report.row("coreutils sleep 60", coreutils, "KiB", { ratio: coreutils / hookSleep, baseline: "hook sleep" });
    const nodeSleep = await rssWhileWaiting(node, ["-e", "setTimeout(() => {}, 60_000)"], () => sleep(1000));
    report.row(`node ${process.version} setTimeout 60 s`, nodeSleep, "KiB", { ratio: nodeSleep / hookSleep, baseline: "hook sleep" });
    const nodePollScript = `require("node:http").get("http://${nodeSilent.address}/v1/pods/x/drain?wait=30", () => {})`;
    const nodePoll = await rssWhileWaiting(node, ["-e", nodePollScript], () => untilAsked(nodeSilent, 1));
    report.row(`node ${process.version} long-poll in flight`, nodePoll, "KiB", { ratio: nodePoll / hookPoll, baseline: "hook wait" });

    report.section(`hook: start to exit (median of ${startRuns}; Node ${nodeStartRuns})`);
    const hookStart = await medianMs(startRuns, hook, ["sleep", "0", "--log=/dev/null"]);
    report.row("hook sleep 0", hookStart, "ms");
    const coreutilsStart = await medianMs(startRuns, "sleep", ["0"]);
    report.row("coreutils sleep 0", coreutilsStart, "ms", { ratio: coreutilsStart / hookStart, baseline: "hook sleep 0" });
    const nodeStart = await medianMs(nodeStartRuns, node, ["-e", "setTimeout(() => {}, 0)"]);
    report.row(`node ${process.version} setTimeout 0`, nodeStart, "ms", { ratio: nodeStart / hookStart, baseline: "hook sleep 0" });
    const hookAsk = await medianMs(startRuns, hook, waitArgs(unselected));
    report.row("hook wait, oracle answers unselected", hookAsk, "ms");
  } finally {
    await Promise.all([silent.close(), nodeSilent.close(), drained.close(), unselected.close()]);
    await new Promise<void>((resolve) => listener.close(() => { resolve(); }));
    rmSync(work, { recursive: true, force: true });
  }
  await readingCost(report);
}
