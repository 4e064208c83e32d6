import { readFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, type TestContext } from "vitest";
import { procCopy, waitWithProc } from "./drained.ts";
import { closedPort } from "./oracle.ts";
import { tcpLine, TcpState, type ProcDir } from "./procnet.ts";
import { makePodInfo, runHook, type HookRun } from "./run.ts";

const drainedAnswer = "drained ports=8080,8443 node=10.0.0.7";
// Lower bounds are exact: the hook must never release early. Upper bounds leave room for process
// start on a loaded 2-core machine.
const slack = 2500;

/** The draining fixture with its three open connections removed: every socket left is closed or not inbound. */
function closedCopy(context: TestContext): ProcDir {
  const proc = procCopy(context, "draining");
  proc.update("tcp", 2, undefined);
  proc.update("tcp", 3, undefined);
  proc.update("tcp6", 1, undefined);
  return proc;
}

/** A drain over closedCopy() plus one inbound connection to 8080 in `state`. */
function drainOneInbound(context: TestContext, state: TcpState, max: string): Promise<HookRun> {
  const proc = closedCopy(context);
  proc.append("tcp", [tcpLine(50, { local: ["10.244.1.5", 8080], remote: ["10.244.7.7", 42000], state }, false)]);
  return waitWithProc(context, proc.dir, drainedAnswer, max, "--settle=0", "--quiet=200ms", "--drain");
}

describe.concurrent("the drain phase over /proc/net/tcp fixtures", () => {
  it("counts established and syn-recv inbound connections to serving ports, and nothing else, until --max", async (context) => {
    const proc = procCopy(context, "draining");
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=1500ms", "--settle=0", "--quiet=300ms", "--drain");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1500);
    expect(run.elapsedMs).toBeLessThan(1500 + slack);
    expect(run.log).toMatch(
      /^lameduck: drained after \d\.\d\ds, quiet after 0\.\d\ds, drain phase \d\.\d\ds cut short by max, 3 connections open, released at 1\.\d\ds of max 1500ms\n$/,
    );
  });

  it("holds until the open connections have closed, counting a handshake that completes, then releases", async (context) => {
    const proc = procCopy(context, "draining");
    const hook = waitWithProc(context, proc.dir, drainedAnswer, "--max=20s", "--settle=0", "--quiet=300ms", "--drain");
    await sleep(800);
    proc.update("tcp", 3, TcpState.established); // the syn-recv connection is now established: still open
    proc.update("tcp", 2, TcpState.timeWait);
    await sleep(800);
    proc.update("tcp", 3, TcpState.closeWait);
    const lastClosed = performance.now(); // the last one cannot close before its update begins
    proc.update("tcp6", 1, undefined);
    const run = await hook;
    expect(run.code).toBe(0);
    expect(run.exitedAt).toBeGreaterThanOrEqual(lastClosed);
    expect(run.exitedAt).toBeLessThan(lastClosed + slack);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, quiet after 0\.\d\ds, drain phase \d\.\d\ds, 0 connections open, released at \d\.\d\ds of max 20s\n$/);
  });

  it.for<[string, TcpState]>([
    ["established", TcpState.established],
    ["syn-recv", TcpState.synRecv],
  ])("an inbound connection in %s holds the drain phase until --max", async ([, state], context) => {
    const run = await drainOneInbound(context, state, "--max=1500ms");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1500);
    expect(run.log).toMatch(/drain phase \d\.\d\ds cut short by max, 1 connections open, released at 1\.\d\ds of max 1500ms\n$/);
  });

  it.for<[string, TcpState]>([
    ["fin-wait1", TcpState.finWait1],
    ["fin-wait2", TcpState.finWait2],
    ["time-wait", TcpState.timeWait],
    ["close", TcpState.close],
    ["close-wait", TcpState.closeWait],
    ["last-ack", TcpState.lastAck],
    ["closing", TcpState.closing],
  ])("an inbound connection in %s does not hold the drain phase", async ([, state], context) => {
    const run = await drainOneInbound(context, state, "--max=10s");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeLessThan(200 + slack);
    expect(run.log).toMatch(/, quiet after 0\.\d\ds, drain phase 0\.\d\ds, 0 connections open, released at \d\.\d\ds of max 10s\n$/);
  });

  it("drains right after --settle when the quiet phase is off", async (context) => {
    const proc = closedCopy(context);
    const run = await waitWithProc(context, proc.dir, drainedAnswer, "--max=10s", "--settle=500ms", "--quiet=0", "--drain");
    expect(run.elapsedMs).toBeGreaterThanOrEqual(500);
    expect(run.elapsedMs).toBeLessThan(500 + slack);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, quiet phase off, drain phase 0\.\d\ds, 0 connections open, released at \d\.\d\ds of max 10s\n$/);
  });

  it("has no drain phase when the oracle names no serving ports", async (context) => {
    const proc = procCopy(context, "draining");
    const run = await waitWithProc(context, proc.dir, "drained ports= node=10.0.0.7", "--max=10s", "--settle=0", "--drain");
    expect(run.elapsedMs).toBeLessThan(slack);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, no serving ports, released at \d\.\d\ds of max 10s\n$/);
  });

  it("has no drain phase for an unselected pod", async (context) => {
    const proc = procCopy(context, "draining");
    const run = await waitWithProc(context, proc.dir, "unselected ports=8080", "--max=10s", "--drain");
    expect(run.elapsedMs).toBeLessThan(slack);
    expect(run.log).toMatch(/^lameduck: unselected \(no Service routes to this pod\), released at \d\.\d\ds of max 10s\n$/);
  });

  it("has no drain phase after the fallback sleep: without ports= it cannot tell what is serving", async (context) => {
    const proc = procCopy(context, "draining");
    const podInfo = makePodInfo("7d0c9f3a-2b1e-4c5d-8e6f-0a1b2c3d4e5f");
    context.onTestFinished(() => { podInfo.remove(); });
    const port = await closedPort();
    const run = await runHook(["wait", `--oracle=127.0.0.1:${port}`, "--max=20s", "--fallback=500ms", "--drain", `--podinfo=${podInfo.dir}`, `--proc=${proc.dir}`]);
    // The 2 s retry window, then the fallback: not the 20 s that three open connections would take.
    expect(run.elapsedMs).toBeGreaterThanOrEqual(2500);
    expect(run.elapsedMs).toBeLessThan(2500 + slack);
    expect(run.log).toMatch(/unreachable: connection refused; fallback sleep, released at \d\.\d\ds of max 20s\n$/);
  });

  it("stops, saying why, when a table turns unreadable in the middle of the drain", async (context) => {
    const proc = procCopy(context, "draining");
    const hook = waitWithProc(context, proc.dir, drainedAnswer, "--max=20s", "--settle=0", "--quiet=200ms", "--drain");
    await sleep(1000);
    const broken = performance.now();
    proc.append("tcp", ["  99: garbage"]);
    const run = await hook;
    expect(run.exitedAt).toBeGreaterThanOrEqual(broken);
    expect(run.exitedAt).toBeLessThan(broken + slack);
    expect(run.log).toMatch(new RegExp(`, drain phase stopped after \\d\\.\\d\\ds \\(${proc.dir}/net/tcp: unexpected format\\), released at \\d\\.\\d\\ds of max 20s\\n$`));
  });

  it("says that both phases were skipped when it cannot read the tables", async (context) => {
    const run = await waitWithProc(context, "/nonexistent-proc", drainedAnswer, "--max=10s", "--settle=300ms", "--quiet=5s", "--drain");
    expect(run.elapsedMs).toBeLessThan(300 + slack);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, quiet and drain phases skipped \(\/nonexistent-proc\/net\/tcp: no such file\), released at \d\.\d\ds of max 10s\n$/);
  });
});

// Real connections on this machine's loopback: both ends of each connection are in the namespace,
// and only the server's end (local port = the serving port) is inbound.
interface Loopback {
  readonly port: number;
  /** Server-side sockets, in the order they were accepted. */
  readonly accepted: Socket[];
  dial(allowHalfOpen?: boolean): Promise<Socket>;
}

async function loopback(context: TestContext, allowHalfOpen: boolean): Promise<Loopback> {
  const accepted: Socket[] = [];
  const dialled: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen }, (socket) => {
    accepted.push(socket);
    socket.on("error", () => { /* the test client went away */ });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  context.onTestFinished(() => new Promise<void>((resolve) => {
    for (const socket of [...accepted, ...dialled]) socket.destroy();
    server.close(() => { resolve(); });
  }));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  const dial = (clientHalfOpen = false): Promise<Socket> => new Promise((resolve, reject) => {
    const socket = connect({ port: address.port, host: "127.0.0.1", allowHalfOpen: clientHalfOpen }, () => { resolve(socket); });
    dialled.push(socket);
    socket.on("error", reject);
  });
  return { port: address.port, accepted, dial };
}

/** The TCP states of the sockets whose local port is `port`, from this machine's /proc/net/tcp. */
function statesOn(port: number): number[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8").split("\n").flatMap((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1]?.endsWith(`:${hexPort}`) === true && fields[3] !== undefined ? [parseInt(fields[3], 16)] : [];
  });
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await sleep(20);
  }
  throw new Error(`not within 2s: ${what}`);
}

// /proc: over netlink; /proc/self: the same sockets from /proc/self/net/tcp{,6}.
describe.concurrent.each([["over netlink", "/proc"], ["from /proc/net/tcp", "/proc/self"]])("the drain phase reading this machine's sockets %s", (_reader, proc) => {
  it("holds while an established connection is open and releases once it has closed", async (context) => {
    const server = await loopback(context, false);
    const client = await server.dial();
    const hook = waitWithProc(context, proc, `drained ports=${server.port}`, "--max=20s", "--settle=0", "--quiet=300ms", "--drain");
    await sleep(1500);
    const closedAt = performance.now();
    client.destroy(); // FIN; the server (allowHalfOpen false) closes its end in turn
    const run = await hook;
    expect(run.code).toBe(0);
    expect(run.exitedAt).toBeGreaterThanOrEqual(closedAt);
    expect(run.exitedAt).toBeLessThan(closedAt + slack);
    expect(run.log).toMatch(/, quiet after 0\.\d\ds, drain phase \d\.\d\ds, 0 connections open, released at \d\.\d\ds of max 20s\n$/);
  });

  it("is not held by connections half-closed by either side", async (context) => {
    const server = await loopback(context, true);
    const byClient = await server.dial();
    await server.dial(true);
    await eventually("both connections accepted", () => server.accepted.length === 2);
    byClient.end(); // FIN from the client: the server's end stays in close-wait (allowHalfOpen)
    server.accepted[1]?.end(); // FIN from the server: its end waits in fin-wait2
    await eventually("close-wait and fin-wait2 on the server's port", () =>
      statesOn(server.port).includes(TcpState.closeWait) && statesOn(server.port).includes(TcpState.finWait2));
    const run = await waitWithProc(context, proc, `drained ports=${server.port}`, "--max=20s", "--settle=0", "--quiet=300ms", "--drain");
    expect(run.elapsedMs).toBeLessThan(300 + slack);
    expect(run.log).toMatch(/, quiet after 0\.\d\ds, drain phase 0\.\d\ds, 0 connections open, released at /);
    // Both half-closed connections were still there the whole time.
    expect(statesOn(server.port)).toEqual(expect.arrayContaining([TcpState.closeWait, TcpState.finWait2]));
  });

  it("counts only the server's end of a loopback connection, and reports it open at --max", async (context) => {
    const server = await loopback(context, false);
    await server.dial();
    const run = await waitWithProc(context, proc, `drained ports=${server.port}`, "--max=1500ms", "--settle=0", "--quiet=300ms", "--drain");
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1500);
    expect(run.elapsedMs).toBeLessThan(1500 + slack);
    // The client's end (an ephemeral local port to the serving port) is outbound: 1, not 2.
    expect(run.log).toMatch(/drain phase \d\.\d\ds cut short by max, 1 connections open, released at 1\.\d\ds of max 1500ms\n$/);
  });
});
