// The hook reads the pod's sockets over netlink (sock_diag) and from /proc/net/tcp{,6} when --proc
// names another procfs or netlink fails. These tests build one set of real loopback connections and
// have the hook count them every way it can read them: over netlink; from the tables; after netlink
// was refused, rejected or left unanswered (strace's fault injection); and on arm64 under
// qemu-user, which has no sock_diag. Every way must count the same connections. strace (amd64) and
// qemu's -strace (arm64) show which way the hook took.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, type TestContext } from "vitest";
import { startWait } from "./drained.ts";
import { Arch, type HookRun, type RunOptions } from "./run.ts";

async function listen(context: TestContext, host: string, allowHalfOpen = false): Promise<{ port: number; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen }, (socket) => {
    accepted.push(socket);
    socket.on("error", () => { /* the test's client went away */ });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  context.onTestFinished(() => new Promise<void>((resolve) => {
    for (const socket of accepted) socket.destroy();
    server.close(() => { resolve(); });
  }));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return { port: address.port, accepted };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await sleep(20);
  if (!check()) throw new Error(`not within 2s: ${what}`);
}

/**
 * Two serving ports (one IPv4, one dual-stack IPv6) and an unrelated one, with connections the
 * hook must count as open (5) and others it must not: the node's, a close-wait and a time-wait on
 * a serving port, one to the unrelated port, and the clients' own ends of all of them.
 */
async function scene(context: TestContext): Promise<string> {
  const v4 = await listen(context, "127.0.0.1", true);
  const v6 = await listen(context, "::");
  const other = await listen(context, "127.0.0.1");
  const clients: Socket[] = [];
  context.onTestFinished(() => { for (const socket of clients) socket.destroy(); });
  const dial = (port: number, host: string, localAddress?: string): Promise<Socket> => new Promise((resolve, reject) => {
    const socket = connect({ port, host, ...(localAddress === undefined ? {} : { localAddress }) }, () => { resolve(socket); });
    clients.push(socket);
    socket.on("error", reject);
  });
  for (let i = 0; i < 3; i++) await dial(v4.port, "127.0.0.1");
  await dial(v4.port, "127.0.0.1", "127.0.0.2"); // the node
  await dial(v6.port, "::1");
  await dial(v6.port, "127.0.0.1"); // IPv4-mapped on the dual-stack listener
  await dial(other.port, "127.0.0.1");
  (await dial(v4.port, "127.0.0.1")).end(); // the client's FIN: the server's end stays in close-wait
  await dial(v4.port, "127.0.0.1");
  await until("every connection accepted", () => v4.accepted.length === 6 && v6.accepted.length === 2 && other.accepted.length === 1);
  v4.accepted[5]?.destroy(); // the server closes first: its end goes to time-wait
  await sleep(100);
  return `drained ports=${v4.port},${v6.port} node=127.0.0.2`;
}

const expected = /, quiet after \d\.\d\ds, drain phase \d\.\d\ds cut short by max, 5 connections open, released at 2\.\d\ds of max 2500ms\n$/;

/** The scene's drain phase as the hook counts it, with `flags` and `options`. */
async function count(context: TestContext, flags: readonly string[], options: RunOptions = {}): Promise<HookRun> {
  const body = await scene(context);
  const { run } = await startWait(context, body, ["--max=2500ms", "--settle=0", "--quiet=200ms", "--drain", ...flags], options);
  return run;
}

/** Runs the amd64 hook under strace with `inject` (if any); returns the run and strace's log. */
async function traced(context: TestContext, flags: readonly string[], inject?: string): Promise<{ run: HookRun; trace: string }> {
  const dir = mkdtempSync(join(tmpdir(), "lameduck-strace-"));
  context.onTestFinished(() => { rmSync(dir, { recursive: true, force: true }); });
  const log = join(dir, "trace");
  const launcher = ["strace", "-qq", "-o", log, "-e", "trace=socket,open,openat,sendto,recvfrom", ...(inject === undefined ? [] : ["-e", `inject=${inject}`])];
  const run = await count(context, flags, { launcher });
  return { run, trace: readFileSync(log, "utf8") };
}

/** Whether strace saw `path` opened (musl calls open on amd64, openat elsewhere). */
function opened(trace: string, path: string): boolean {
  return trace.includes(`open("${path}", `) || trace.includes(`openat(AT_FDCWD, "${path}", `);
}

/**
 * A header for the hook's first netlink request, for strace to write over the real one: its length
 * (struct nlmsghdr, struct inet_diag_req, the filter's nlattr, 20 bytes per port but the last's
 * jump), `type`, flags NLM_F_REQUEST | NLM_F_DUMP, sequence 1, port 0.
 */
function requestHeader(ports: number, type: number): string {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(16 + 60 + 4 + 20 * ports - 4, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(0x301, 6);
  header.writeUInt32LE(1, 8);
  return header.toString("hex");
}

// sendto #1 is the hook's request to the oracle, #2 its first netlink request; socket #2 likewise.
describe.concurrent("reading the pod's sockets", () => {
  it("asks the kernel over netlink by default, and never reads the tables", async (context) => {
    const { run, trace } = await traced(context, []);
    expect(run.log).toMatch(expected);
    expect(trace).toMatch(/^socket\(AF_NETLINK, SOCK_RAW\|SOCK_CLOEXEC\|SOCK_NONBLOCK, NETLINK_SOCK_DIAG\) = \d+$/m);
    expect(trace).toContain("nlmsg_type=NLMSG_DONE");
    expect(trace).not.toContain("/net/tcp");
  });

  it("reads the tables, never netlink, with a --proc other than /proc", async (context) => {
    const { run, trace } = await traced(context, ["--proc=/proc/self"]);
    expect(run.log).toMatch(expected);
    expect(trace).not.toContain("AF_NETLINK");
    expect(opened(trace, "/proc/self/net/tcp")).toBe(true);
    expect(opened(trace, "/proc/self/net/tcp6")).toBe(true);
  });

  it("reads the tables when it may not open a netlink socket (a seccomp profile)", async (context) => {
    const { run, trace } = await traced(context, [], "socket:error=EPERM:when=2");
    expect(run.log).toMatch(expected);
    expect(trace).toMatch(/^socket\(AF_NETLINK, .*NETLINK_SOCK_DIAG\) = -1 EPERM .*\(INJECTED\)$/m);
    expect(trace.match(/AF_NETLINK/g)).toHaveLength(1); // and never tries again
    expect(opened(trace, "/proc/net/tcp")).toBe(true);
  });

  it("reads the tables when the kernel answers its request with an error", async (context) => {
    // A request of type 17, which sock_diag does not know: the kernel answers NLMSG_ERROR, EINVAL.
    const { run, trace } = await traced(context, [], `sendto:poke_enter=@arg2=${requestHeader(2, 17)}:when=2`);
    expect(run.log).toMatch(expected);
    expect(trace).toMatch(/nlmsg_type=NLMSG_ERROR, .*error=-EINVAL/);
    expect(opened(trace, "/proc/net/tcp")).toBe(true);
  });

  it("reads the tables when the kernel never answers, after waiting 1s for it", async (context) => {
    // A length of 0: the kernel drops the request without a word, and the hook's reads find nothing.
    const { run, trace } = await traced(context, [], "sendto:poke_enter=@arg2=00000000:when=2");
    expect(run.log).toMatch(expected);
    expect(trace).toMatch(/^recvfrom\(\d+, 0x[0-9a-f]+, 8192, MSG_TRUNC, NULL, NULL\) = -1 EAGAIN/m);
    expect(opened(trace, "/proc/net/tcp")).toBe(true);
    // The wait is bounded: the first reading began at once, the tables were read a second later.
    expect(run.log).toMatch(/quiet after 1\.[0-4]\ds/);
  });

  it("reads the tables on arm64 under qemu-user, which refuses sock_diag sockets", async (context) => {
    const run = await count(context, [], { arch: Arch.arm64, launcher: ["qemu-aarch64-static", "-strace"] });
    expect(run.log).toMatch(expected);
    expect(run.stderr).toMatch(/socket\(PF_NETLINK,SOCK_RAW\|SOCK_CLOEXEC\|SOCK_NONBLOCK,4\) = -1 errno=93 \(Protocol not supported\)/);
    expect(run.stderr).toContain('openat(AT_FDCWD,"/proc/net/tcp",');
  });
});
