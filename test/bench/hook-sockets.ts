// What one reading of the pod's sockets costs the hook, over netlink and from /proc/net/tcp{,6}, as
// the network namespace fills with sockets that are not on a serving port. Runs as a script of its
// own, in a network namespace of its own (hook.bench.ts starts it under `unshare -rn`), so that the
// namespace holds exactly the sockets made here; the kernel still walks the whole machine's.
// Prints one JSON line per measurement. With `--farm`, it is instead one of the processes that hold
// the unrelated connections (both ends of each: 5,000 connections are 10,000 descriptors).
import { fork, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { answer, sequence, startTestOracle, type TestOracle } from "../hook/oracle.ts";

const here = fileURLToPath(import.meta.url);
const hook = join(dirname(here), "..", "..", "dist", "hook-amd64");
/** Sockets in the namespace besides the serving ones; each farm process holds up to 10,000. */
const levels = [100, 5_000, 20_000] as const;
const perFarm = 10_000;
const servingConnections = 4;
const windowMs = 3000;

type Reader = "netlink" | "tables";

interface Cost {
  readonly readings: number;
  /** User and system CPU per reading (the hook does nothing else while it waits). */
  readonly cpuUsPerReading: number;
  /** CPU time over wall time while it waits: the share of a core a waiting hook takes. */
  readonly coreShare: number;
}

export interface SocketsMeasurement extends Cost {
  /** Entries in /proc/net/tcp and tcp6: every TCP socket of the namespace. */
  readonly sockets: number;
  readonly reader: Reader;
}

async function listen(): Promise<{ server: Server; port: number; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => { accepted.push(socket); });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no listener address");
  return { server, port: address.port, accepted };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => { resolve(socket); });
    socket.on("error", reject);
  });
}

/** A farm process: opens connections to its own listener when told how many to hold. */
async function farm(): Promise<void> {
  const { port } = await listen();
  const clients: Socket[] = [];
  process.on("message", (wanted: number) => {
    void (async () => {
      while (clients.length < wanted) {
        const batch = Math.min(200, wanted - clients.length);
        clients.push(...await Promise.all(Array.from({ length: batch }, () => dial(port))));
      }
      process.send?.(clients.length);
    })();
  });
  process.send?.(0);
}

function tableEntries(): number {
  const lines = (table: string): number => readFileSync(`/proc/net/${table}`, "utf8").trimEnd().split("\n").length - 1;
  return lines("tcp") + lines("tcp6");
}

/** CPU time in ns (schedstat: exact, unlike the 10 ms ticks of stat) and voluntary sleeps. */
function usage(pid: number): { cpuNs: number; sleeps: number } {
  const cpuNs = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  const sleeps = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (sleeps === undefined || !Number.isFinite(cpuNs)) throw new Error(`no usage for ${pid}`);
  return { cpuNs, sleeps: Number(sleeps) };
}

/**
 * Both hooks at once, in their quiet phase (nothing new arrives, so each reads every 100 ms until
 * --quiet), measured over the same window so that both meet the same machine: on a shared one, the
 * sockets of other namespaces, which the kernel walks for both readers, come and go. Each reading
 * ends in one sleep and nothing else in the loop sleeps, so voluntary context switches count them.
 */
async function measure(oracle: TestOracle, podinfo: string): Promise<Record<Reader, Cost>> {
  const readers = { tables: ["--proc=/proc/self"], netlink: [] } as const satisfies Record<Reader, readonly string[]>;
  const asked = oracle.requests.length;
  const children = Object.entries(readers).map(([reader, flags]) => {
    const child = spawn(hook, ["wait", `--oracle=${oracle.address}`, "--max=60s", "--settle=0", "--quiet=60s", `--podinfo=${podinfo}`, "--log=/dev/null", ...flags], { stdio: "ignore" });
    return { reader: reader as Reader, child, exited: once(child, "close") };
  });
  try {
    for (let i = 0; i < 200 && oracle.requests.length < asked + children.length; i++) await sleep(25);
    await sleep(300);
    const pids = children.map(({ child }) => {
      if (child.pid === undefined || child.exitCode !== null) throw new Error("a hook is not waiting");
      return child.pid;
    });
    if (oracle.requests.length < asked + children.length) throw new Error("a hook was never answered");
    const before = pids.map(usage);
    const start = performance.now();
    await sleep(windowMs);
    const after = pids.map(usage);
    const wallNs = (performance.now() - start) * 1e6;
    const cost = (k: number): Cost => {
      const b = before[k], a = after[k];
      if (a === undefined || b === undefined) throw new Error("no usage");
      const readings = a.sleeps - b.sleeps, cpuNs = a.cpuNs - b.cpuNs;
      return { readings, cpuUsPerReading: cpuNs / 1000 / readings, coreShare: cpuNs / wallNs };
    };
    return { tables: cost(0), netlink: cost(1) };
  } finally {
    for (const { child } of children) child.kill("SIGKILL");
    await Promise.all(children.map(({ exited }) => exited));
  }
}

async function main(): Promise<void> {
  const serving = await listen();
  const held = await Promise.all(Array.from({ length: servingConnections }, () => dial(serving.port)));
  const oracle = await startTestOracle(sequence(answer(`drained ports=${serving.port}`)));
  const podinfo = mkdtempSync(join(tmpdir(), "lameduck-bench-sockets-"));
  mkdirSync(join(podinfo, "pod"));
  writeFileSync(join(podinfo, "pod", "uid"), "be4c0000-0000-4000-8000-000000000002");
  const farms: ReturnType<typeof fork>[] = [];
  const grow = async (farmIndex: number, connections: number): Promise<void> => {
    const existing = farms[farmIndex];
    const child = existing ?? fork(here, ["--farm"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    if (existing === undefined) {
      farms[farmIndex] = child;
      await once(child, "message");
    }
    child.send(connections);
    await once(child, "message");
  };
  try {
    for (const level of levels) {
      // Each connection is two sockets; the serving ones and the listeners are counted apart.
      for (let f = 0; f * perFarm < level; f++) await grow(f, Math.min(perFarm, level - f * perFarm) / 2);
      await sleep(200);
      const sockets = tableEntries();
      const costs = await measure(oracle, podinfo);
      for (const reader of ["tables", "netlink"] as const) {
        const line: SocketsMeasurement = { sockets, reader, ...costs[reader] };
        console.log(JSON.stringify(line));
      }
    }
  } finally {
    for (const child of farms) child.kill("SIGKILL");
    for (const socket of [...held, ...serving.accepted]) socket.destroy();
    serving.server.close();
    await oracle.close();
    rmSync(podinfo, { recursive: true, force: true });
  }
}

if (process.argv.includes("--farm")) await farm();
else if (process.argv[1] === here) await main();
