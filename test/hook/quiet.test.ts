import { connect, createServer, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { readFileSync, renameSync, rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { procCopy, startWaitWithProc, waitWithProc } from "./drained.ts";
import { tcpLine, TcpState, writeLongTable, type ProcDir } from "./procnet.ts";

const drainedAnswer = "drained ports=8080,8443 node=10.0.0.7";
const slack = 2500;

/**
 * Appends one socket line per tick until `untilMs` has passed; returns when the last append began,
 * which the line cannot have appeared before (a lower bound for what the hook does after it).
 */
async function keepAdding(proc: ProcDir, untilMs: number, line: (i: number) => ["tcp" | "tcp6", string]): Promise<number> {
  const start = performance.now();
  let last = start;
  for (let i = 0; performance.now() - start < untilMs && i < 100; i++) {
    const [table, text] = line(i);
    last = performance.now();
    proc.append(table, [text]);
    await sleep(250);
  }
  return last;
}

describe.concurrent("the quiet phase over /proc/net/tcp fixtures", () => {
  it("counts the open inbound connections to serving ports, IPv4, IPv6 and IPv4-mapped, minus the node's", async (context) => {
    const proc = procCopy(context, "pod");
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=10s", "--settle=0", "--quiet=500ms");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(500);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, quiet after \d\.\d\ds, 4 connections open, released at \d\.\d\ds of max 10s\n$/);
  });

  it("holds while new inbound connections keep appearing, and releases --quiet after the last", async (context) => {
    const proc = procCopy(context, "pod");
    const hook = waitWithProc(context, proc.dir, drainedAnswer, "--max=20s", "--settle=0", "--quiet=1s");
    const lastWrite = await keepAdding(proc, 2500, (i) => {
      // A plain IPv4 client, an IPv4-mapped one, an IPv6 one, and a short connection already in time-wait.
      const kind = i % 4;
      const line: ["tcp" | "tcp6", string] =
        kind === 0 ? ["tcp", tcpLine(100 + i, { local: ["10.244.1.5", 8080], remote: ["10.244.9.1", 30000 + i], state: TcpState.established }, false)]
        : kind === 1 ? ["tcp6", tcpLine(100 + i, { local: ["::ffff:10.244.1.5", 8443], remote: ["::ffff:10.244.9.2", 30000 + i], state: TcpState.synRecv }, true)]
        : kind === 2 ? ["tcp6", tcpLine(100 + i, { local: ["fd00:10:244:1::5", 8080], remote: ["fd00:10:244:9::3", 30000 + i], state: TcpState.established }, true)]
        : ["tcp", tcpLine(100 + i, { local: ["10.244.1.5", 8443], remote: ["10.244.9.4", 30000 + i], state: TcpState.timeWait }, false)];
      return line;
    });
    const run = await hook;
    expect(run.code).toBe(0);
    expect(run.exitedAt).toBeGreaterThanOrEqual(lastWrite + 1000);
    expect(run.exitedAt).toBeLessThan(lastWrite + 1000 + slack);
    expect(run.log).toMatch(/quiet after [2-9]\.\d\ds, \d+ connections open, released at/);
  });

  it("is not held by the node's connections, the app's outbound ones or other ports", async (context) => {
    const proc = procCopy(context, "pod");
    const hook = waitWithProc(context, proc.dir, drainedAnswer, "--max=20s", "--settle=0", "--quiet=1s");
    const writer = keepAdding(proc, 6000, (i) => {
      const kind = i % 3;
      return kind === 0 ? ["tcp", tcpLine(100 + i, { local: ["10.244.1.5", 8080], remote: ["10.0.0.7", 30000 + i], state: TcpState.established }, false)]
        : kind === 1 ? ["tcp6", tcpLine(100 + i, { local: ["::ffff:10.244.1.5", 8443], remote: ["::ffff:10.0.0.7", 30000 + i], state: TcpState.established }, true)]
        : ["tcp", tcpLine(100 + i, { local: ["10.244.1.5", 9090], remote: ["10.244.9.9", 30000 + i], state: TcpState.established }, false)];
    });
    const run = await hook;
    const writesEnded = await writer;
    expect(run.log).toMatch(/quiet after 1\.\d\ds, 4 connections open/);
    expect(run.exitedAt).toBeLessThan(writesEnded);
  });

  it("ignores the node when it is given as an IPv6 address", async (context) => {
    const proc = procCopy(context, "pod");
    const hook = waitWithProc(context, proc.dir, "drained ports=8080 node=fd00:10:244:1::1", "--max=20s", "--settle=0", "--quiet=1s");
    const writer = keepAdding(proc, 6000, (i) =>
      ["tcp6", tcpLine(100 + i, { local: ["fd00:10:244:1::5", 8080], remote: ["fd00:10:244:1::1", 30000 + i], state: TcpState.established }, true)]);
    const run = await hook;
    expect(run.exitedAt).toBeLessThan(await writer);
    // On 8080 only; 10.0.0.7 is not the node here, so its connection counts: 4 open.
    expect(run.log).toMatch(/quiet after 1\.\d\ds, 4 connections open/);
  });

  it("starts the quiet period at the drained answer, so with no new connections it ends with --settle", async (context) => {
    const proc = procCopy(context, "pod");
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=10s", "--settle=1500ms", "--quiet=1s");
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1500);
    expect(run.elapsedMs).toBeLessThan(1500 + slack);
    expect(run.log).toMatch(/quiet after 1\.5\ds, 4 connections open/);
  });

  it("treats more connections than it can track as activity, until --max", async (context) => {
    const proc = procCopy(context, "pod");
    const many = Array.from({ length: 4200 }, (_, i) =>
      tcpLine(1000 + i, { local: ["10.244.1.5", 8080], remote: [`10.245.${i >> 8}.${i & 255}`, 40000], state: TcpState.established }, false));
    proc.append("tcp", many);
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=2s", "--settle=0", "--quiet=500ms");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(2000);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, max reached before quiet \(last new connection \d\.\d\ds ago\), 4\d\d\d connections open, released at 2\.\d\ds of max 2s\n$/);
  });

  it("works with no tcp6 table (a kernel without IPv6)", async (context) => {
    const proc = procCopy(context, "pod");
    rmSync(join(proc.dir, "net", "tcp6"));
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=10s", "--settle=0", "--quiet=300ms");
    expect(run.log).toMatch(/quiet after \d\.\d\ds, 2 connections open/);
  });

  it("skips the quiet phase, after --settle, when it cannot read the tables", async (context) => {
    const run = await waitWithProc(context, "/nonexistent-proc", drainedAnswer, "--max=10s", "--settle=300ms", "--quiet=5s");
    expect(run.elapsedMs).toBeGreaterThanOrEqual(300);
    expect(run.elapsedMs).toBeLessThan(300 + slack);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, quiet phase skipped \(\/nonexistent-proc\/net\/tcp: no such file\), released at \d\.\d\ds of max 10s\n$/);
  });

  it("skips the quiet phase when a table is not in the kernel's format", async (context) => {
    const proc = procCopy(context, "pod");
    proc.append("tcp", ["   9: garbage"]);
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=10s", "--settle=0", "--quiet=5s");
    expect(run.elapsedMs).toBeLessThan(slack);
    expect(run.log).toContain(`quiet phase skipped (${proc.dir}/net/tcp: unexpected format)`);
  });

  it("says when --max ends the settle delay before any new connection", async (context) => {
    const proc = procCopy(context, "pod");
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=1s", "--settle=20s", "--quiet=1s");
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1000);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, max reached while settling, 4 connections open, released at 1\.\d\ds of max 1s\n$/);
  });

  it("has no quiet phase with --quiet=0", async (context) => {
    const proc = procCopy(context, "pod");
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=10s", "--settle=0", "--quiet=0");
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, quiet phase off, released at \d\.\d\ds of max 10s\n$/);
  });

  it("has no quiet phase when the oracle names no serving ports", async (context) => {
    const proc = procCopy(context, "pod");
    const run = await waitWithProc(context, proc.dir, "drained ports= node=10.0.0.7", "--max=10s", "--settle=0", "--quiet=5s");
    expect(run.elapsedMs).toBeLessThan(slack);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, no serving ports, released/);
  });
});

// Alone, not concurrently with the tests above: its table keeps a core busy for a second or two.
describe("the quiet phase over a table that takes longer to read than --quiet", () => {
  it("does not take the slow reading for a quiet period: a later reading must find nothing new", async (context) => {
    // 600,000 sockets on a port that is not serving, checked against 64 serving ports: one reading
    // takes about 0.4 s here, longer than --quiet.
    const proc = procCopy(context, "pod");
    const table = join(proc.dir, "net", "tcp");
    const fixtureLines = readFileSync(table, "utf8");
    const slowLine = "   0: 0501F40A:2382 0902F40A:C822 01";
    const newcomer = tcpLine(900, { local: ["10.244.1.5", 8080], remote: ["10.244.9.9", 45000], state: TcpState.established }, false);
    writeLongTable(table, fixtureLines, slowLine, 600_000);
    writeLongTable(`${table}.next`, fixtureLines, slowLine, 600_000, `${newcomer}\n`);
    const ports = [...Array.from({ length: 62 }, (_, i) => i + 1), 8080, 8443].join(",");
    const { oracle, run: hook } = await startWaitWithProc(context, proc.dir, `drained ports=${ports} node=10.0.0.7`, "--max=20s", "--settle=0", "--quiet=300ms");
    for (let i = 0; i < 200 && oracle.requests.length === 0; i++) await sleep(10);
    // The hook opens the table as soon as it is answered and reads it for about 0.4 s: the
    // newcomer is new to its second reading.
    await sleep(50);
    const appeared = performance.now();
    renameSync(`${table}.next`, table);
    const run = await hook;
    expect(run.exitedAt).toBeGreaterThanOrEqual(appeared + 300);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, quiet after \d\.\d\ds, 5 connections open, released at \d\.\d\ds of max 20s\n$/);
  });
});

// /proc: over netlink; /proc/self: the same sockets from /proc/self/net/tcp{,6} (netlink.test.ts
// checks which way the hook reads).
describe.each([["over netlink", "/proc"], ["from /proc/net/tcp", "/proc/self"]])("the quiet phase reading this machine's sockets %s", (_reader, proc) => {
  it("holds while real loopback connections keep arriving, then releases --quiet after the last", async (context) => {
    const open = new Set<Socket>();
    let first = true;
    // Every connection but the first is closed by the server at once, like an HTTP/1.0 server
    // after its response: the server side then sits in time-wait, which the hook must count. (A
    // connection that the client closes first within one 100 ms sample leaves no trace on the
    // server side; that is the documented limit of sampling.)
    const server = createServer((socket) => {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => { /* the test client hung up */ });
      if (!first) socket.end();
      first = false;
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    context.onTestFinished(() => new Promise<void>((resolve) => {
      for (const socket of open) socket.destroy();
      server.close(() => { resolve(); });
    }));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no address");

    const dial = (): Promise<Socket> => new Promise((resolve, reject) => {
      const socket = connect(address.port, "127.0.0.1", () => { resolve(socket); });
      socket.on("error", reject);
    });
    // One connection stays open throughout: it is not new, and shows up as open at release.
    const held = await dial();
    context.onTestFinished(() => { held.destroy(); });

    const hook = waitWithProc(context, proc, `drained ports=${address.port}`, "--max=20s", "--settle=0", "--quiet=1s");
    const start = performance.now();
    let lastConnect = start;
    for (let i = 0; i < 20 && performance.now() - start < 2500; i++) {
      lastConnect = performance.now(); // the connection cannot appear before its dial begins
      const socket = await dial();
      socket.on("end", () => socket.end());
      await sleep(250);
    }
    const run = await hook;
    expect(run.code).toBe(0);
    expect(run.exitedAt).toBeGreaterThanOrEqual(lastConnect + 1000);
    expect(run.exitedAt).toBeLessThan(lastConnect + 1000 + slack);
    expect(run.log).toMatch(/quiet after [2-9]\.\d\ds, [1-9]\d* connections open/);
  });
});

// Keeps the fixture honest: the encoder that wrote it agrees with the kernel on this machine.
describe("the /proc/net/tcp encoder used by these tests", () => {
  it("writes a loopback listener the way this kernel does", async (context) => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    context.onTestFinished(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no address");
    const ours = tcpLine(0, { local: ["127.0.0.1", address.port], remote: ["0.0.0.0", 0], state: TcpState.listen }, false);
    const field = ours.split(" ").filter((part) => part !== "").slice(1, 4).join(" ");
    expect(readFileSync("/proc/net/tcp", "utf8")).toContain(field);
  });
});
