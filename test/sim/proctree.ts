// What Linux's /proc shows of a process: its children, its threads and how busy they are, the TCP
// sockets and other files it holds. For the exit watchdog (watcher.ts), which must describe and stop
// a process that cannot do either itself any more.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

interface Stat {
  readonly name: string;
  readonly state: string;
  readonly ppid: number;
  /** utime + stime, in USER_HZ ticks (100 a second on every Linux architecture). */
  readonly cpuTicks: number;
  /** When it started, in ticks since boot: a pid together with it names one process for good. */
  readonly startTicks: number;
}

export const ticksPerSecond = 100;

/** Parses a /proc/<pid>/stat line; the command name may contain spaces and ')'. */
export function parseStat(line: string): Stat | undefined {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const fields = line.slice(close + 2).split(" ");
  const [state, ppid, utime, stime, start] = [fields[0], Number(fields[1]), Number(fields[11]), Number(fields[12]), Number(fields[19])];
  if (state === undefined || !Number.isInteger(ppid) || !Number.isFinite(utime + stime + start)) return undefined;
  return { name: line.slice(open + 1, close), state, ppid, cpuTicks: utime + stime, startTicks: start };
}

function readOr<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    // The process or file went away while it was read.
    return fallback;
  }
}

export function statOf(pid: number, tid?: number): Stat | undefined {
  const path = tid === undefined ? `/proc/${String(pid)}/stat` : `/proc/${String(pid)}/task/${String(tid)}/stat`;
  return readOr(() => parseStat(readFileSync(path, "utf8")), undefined);
}

/** Whether the process has ended within `ms`: gone, or a zombie (an orphan's, until init reaps it). */
export async function endedWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    const state = statOf(pid)?.state;
    if (state === undefined || state === "Z") return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const numeric = (entries: readonly string[]): number[] => entries.filter((e) => /^\d+$/.test(e)).map(Number);

export function childPids(pid: number): number[] {
  return numeric(readOr(() => readdirSync("/proc"), [])).filter((p) => statOf(p)?.ppid === pid);
}

export interface ProcessId {
  readonly pid: number;
  readonly startTicks: number;
}

/** The children of `pid` but `spare`, named so that they can be found again after `pid` is gone. */
export function childrenOf(pid: number, spare: number): ProcessId[] {
  return childPids(pid).flatMap((p) => {
    const start = statOf(p)?.startTicks;
    return p === spare || start === undefined ? [] : [{ pid: p, startTicks: start }];
  });
}

/**
 * SIGKILLs each of these processes that still runs, with its process group: the simulation starts
 * every child in a group of its own (children.ts), so this also reaches what a child started itself.
 * Returns how many it found still running.
 */
export function killProcesses(processes: readonly ProcessId[]): number {
  let found = 0;
  for (const { pid, startTicks } of processes) {
    if (pid <= 1 || statOf(pid)?.startTicks !== startTicks) continue;
    found++;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      readOr(() => process.kill(pid, "SIGKILL"), false);
    }
  }
  return found;
}

export function counted(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([n, c]) => (c === 1 ? n : `${n} x${String(c)}`)).join(", ");
}

/** "MainThread R, V8Worker S x4, ...": R is running or runnable, S sleeping, D waiting on the disk. */
export function threadStates(pid: number): string {
  const tids = numeric(readOr(() => readdirSync(`/proc/${String(pid)}/task`), []));
  return counted(tids.flatMap((tid) => {
    const s = statOf(pid, tid);
    return s ? [`${s.name} ${s.state}`] : [];
  }));
}

const tcpStates: Readonly<Record<string, string>> = {
  "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
  "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
};

/** "0100007F:1F90" (IPv4) or 32 hex digits (IPv6), each 32-bit word in host (little-endian) order. */
export function parseProcAddress(text: string): string {
  const [hex = "", port = "0"] = text.split(":");
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  const address = bytes.length === 4 ? bytes.join(".") : (bytes.map((b) => b.toString(16).padStart(2, "0")).join("").match(/.{4}/g) ?? []).join(":");
  return `${address}:${String(parseInt(port, 16))}`;
}

/** The TCP sockets among the process's open files, as "local -> remote STATE", and its other files. */
export function openFiles(pid: number): { readonly sockets: string[]; readonly others: string[] } {
  const fdDir = `/proc/${String(pid)}/fd`;
  const targets = numeric(readOr(() => readdirSync(fdDir), [])).map((fd) => readOr(() => readlinkSync(`${fdDir}/${String(fd)}`), ""));
  const inodes = new Set(targets.flatMap((t) => /^socket:\[(\d+)\]$/.exec(t)?.[1] ?? []));
  const sockets: string[] = [];
  for (const table of ["tcp", "tcp6"]) {
    for (const line of readOr(() => readFileSync(`/proc/${String(pid)}/net/${table}`, "utf8"), "").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const [local, remote, state, inode] = [f[1], f[2], f[3], f[9]];
      if (local === undefined || remote === undefined || state === undefined || inode === undefined || !inodes.has(inode)) continue;
      inodes.delete(inode);
      sockets.push(`${parseProcAddress(local)} -> ${parseProcAddress(remote)} ${tcpStates[state] ?? state}`);
    }
  }
  // Node's own epoll, eventfd and io_uring descriptors say nothing about what was left open.
  const others = targets.filter((t) => t !== "" && !t.startsWith("socket:") && !t.startsWith("anon_inode:")).map((t) => t.replace(/:\[\d+\]$/, ""));
  return { sockets, others: [...others, ...[...inodes].map(() => "socket (not TCP)")] };
}

/** The report's lines: state, threads, sockets, files, children. */
export function describeProcess(pid: number, spare: number): string[] {
  const stat = statOf(pid);
  if (!stat) return [`process ${String(pid)} is gone`];
  const { sockets, others } = openFiles(pid);
  const children = childPids(pid).filter((p) => p !== spare);
  const command = (p: number): string => readOr(() => readFileSync(`/proc/${String(p)}/cmdline`, "utf8").split("\0").join(" ").trim().slice(0, 160), "?");
  return [
    `threads: ${threadStates(pid)}`,
    `TCP sockets: ${sockets.length === 0 ? "none" : sockets.join(", ")}`,
    `other open files: ${others.length === 0 ? "none" : counted(others)}`,
    `child processes: ${children.length === 0 ? "none" : children.map((c) => `${String(c)} (${command(c)})`).join(", ")}`,
  ];
}
