// Writes /proc/net/tcp and /proc/net/tcp6 files in the kernel's format (net/ipv4/tcp_ipv4.c
// get_tcp4_sock, net/ipv6/tcp_ipv6.c get_tcp6_sock) for the hook's --proc option. Each 32-bit
// word of an address is printed as the hex of its in-memory value, which on little-endian machines
// (amd64, arm64) reverses the bytes of each word: 127.0.0.1 is 0100007F.
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// include/net/tcp_states.h; /proc/net/tcp prints them as two hex digits.
export const TcpState = {
  established: 0x01, synSent: 0x02, synRecv: 0x03, finWait1: 0x04, finWait2: 0x05, timeWait: 0x06,
  close: 0x07, closeWait: 0x08, lastAck: 0x09, listen: 0x0a, closing: 0x0b,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

function ipv4Bytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

function ipv6Bytes(ip: string): number[] {
  let text = ip;
  let v4: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1] !== undefined) {
    v4 = ipv4Bytes(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}0:0`;
  }
  const [head = "", tail] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const bytes = groups.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
  if (v4.length === 4) bytes.splice(12, 4, ...v4);
  return bytes;
}

function hexWords(bytes: readonly number[]): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    out += bytes.slice(i, i + 4).reverse().map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  return out.toUpperCase();
}

function endpoint(ip: string, port: number, v6: boolean): string {
  if (v6 && !isIPv6(ip)) throw new Error(`not an IPv6 address: ${ip}`);
  if (!v6 && !isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`);
  const bytes = v6 ? ipv6Bytes(ip) : ipv4Bytes(ip);
  return `${hexWords(bytes)}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
}

export interface Socket {
  readonly local: readonly [ip: string, port: number];
  readonly remote: readonly [ip: string, port: number];
  readonly state: TcpState;
}

/** One table line; `v6` picks the tcp6 format (IPv4-mapped addresses are written ::ffff:a.b.c.d). */
export function tcpLine(slot: number, socket: Socket, v6: boolean): string {
  const state = socket.state.toString(16).toUpperCase().padStart(2, "0");
  const inode = socket.state === TcpState.timeWait ? 0 : 40_000 + slot;
  return (
    `${String(slot).padStart(4)}: ${endpoint(...socket.local, v6)} ${endpoint(...socket.remote, v6)} ${state} ` +
    `00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 20 4 30 10 -1`
  );
}

/**
 * Writes `head`, then `count` copies of the table line `line`, then `tail`: a table that takes the
 * hook long to read (600,000 lines: about 0.4 s here), written in chunks rather than built in memory.
 */
export function writeLongTable(path: string, head: string, line: string, count: number, tail = ""): void {
  const perChunk = 10_000;
  const chunk = Buffer.from(`${line}\n`.repeat(perChunk));
  const fd = openSync(path, "w");
  try {
    writeSync(fd, head);
    for (let written = 0; written < count; written += perChunk) {
      writeSync(fd, chunk, 0, Math.min(perChunk, count - written) * (line.length + 1));
    }
    writeSync(fd, tail);
  } finally {
    closeSync(fd);
  }
}

/** A writable copy of a fixture directory holding net/tcp and net/tcp6, for --proc. */
export interface ProcDir {
  readonly dir: string;
  /** Appends lines to net/<table>, replacing the file atomically so the hook never reads half of it. */
  append(table: "tcp" | "tcp6", lines: readonly string[]): void;
  /** Moves the socket in `slot` of net/<table> to `state`, or removes it (undefined), atomically. */
  update(table: "tcp" | "tcp6", slot: number, state: TcpState | undefined): void;
  remove(): void;
}

export function copyProcFixture(fixture: string): ProcDir {
  const dir = mkdtempSync(join(tmpdir(), "lameduck-proc-"));
  cpSync(fixture, dir, { recursive: true });
  const replace = (table: "tcp" | "tcp6", edit: (text: string) => string): void => {
    const path = join(dir, "net", table);
    writeFileSync(`${path}.new`, edit(readFileSync(path, "utf8")));
    renameSync(`${path}.new`, path);
  };
  return {
    dir,
    append(table, lines) {
      replace(table, (text) => text + lines.map((line) => `${line}\n`).join(""));
    },
    update(table, slot, state) {
      replace(table, (text) => {
        const lines = text.split("\n");
        const at = lines.findIndex((line) => line.trimStart().startsWith(`${slot}: `));
        const line = lines[at];
        if (line === undefined) throw new Error(`no slot ${slot} in net/${table}`);
        if (state === undefined) lines.splice(at, 1);
        else lines[at] = line.replace(/^(\s*\d+: \S+ \S+ )[0-9A-F]{2} /, `$1${state.toString(16).toUpperCase().padStart(2, "0")} `);
        return lines.join("\n");
      });
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
