// What webhook.bench.ts does to the controller: an open-loop review load, hooks holding long-polls,
// clients holding large uploads, and a liveness poll from outside.
import { readdirSync, readFileSync } from "node:fs";
import { setPriority } from "node:os";
import { request as httpRequest } from "node:http";
import { Agent } from "node:https";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { post } from "./review.ts";

export interface Sample {
  /** When the request was sent, ms on performance.now(). */
  readonly at: number;
  readonly ms: number;
  readonly ok: boolean;
}

/**
 * Sends one review every 1000/rate ms for `durationMs` whatever the answers take (open loop: a slow
 * answer does not slow the load down, as the API server's pod creations do not wait for each other).
 */
export async function openLoop(port: number, ca: string, agent: Agent, rate: number, durationMs: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      for (; sent < due; sent++) {
        const at = performance.now();
        pending.push(post(port, ca, agent).then(
          (answer) => { samples.push({ at, ms: performance.now() - at, ok: answer.status === 200 }); },
          () => { samples.push({ at, ms: performance.now() - at, ok: false }); },
        ));
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  return samples;
}

/** Hooks holding long-polls on the oracle: each asks again as soon as it is answered, until stopped. */
export function holdWaits(port: number, uids: readonly string[]): { stop(): void; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  let stopped = false;
  const ask = (uid: string, i: number): void => {
    if (stopped) return;
    // Each from its own address, as each pod's hook comes from its pod's IP (the oracle caps the
    // waits one address may hold).
    const socket = tcpConnect({ port, host: "127.0.0.1", localAddress: `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}` });
    sockets.add(socket);
    socket.on("connect", () => { socket.write(`GET /v1/pods/${uid}/drain?wait=30 HTTP/1.1\r\nHost: oracle\r\nConnection: close\r\n\r\n`); });
    socket.on("error", () => undefined);
    socket.on("data", () => undefined);
    socket.on("close", () => {
      sockets.delete(socket);
      setTimeout(() => { ask(uid, i); }, 100);
    });
  };
  // In batches, so that the listen backlog is never the bottleneck.
  uids.forEach((uid, i) => setTimeout(() => { ask(uid, i); }, Math.floor(i / 100) * 5));
  return {
    sockets,
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * Clients that each send most of a `bytes` upload and hold it; one the webhook closes connects and
 * starts again, until stopped. Resolves `refused` with the 503s seen.
 */
export function holdUploads(port: number, clients: number, bytes: number): { stop(): void; refused(): number } {
  let stopped = false;
  let refused = 0;
  const sockets = new Set<TLSSocket>();
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const client = (): void => {
    if (stopped) return;
    const socket = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("data", (d: Buffer) => { if (d.toString("latin1").startsWith("HTTP/1.1 503")) refused++; });
    socket.on("close", () => {
      sockets.delete(socket);
      setTimeout(client, 50);
    });
    socket.on("secureConnect", () => {
      socket.write(`POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`);
      let left = bytes - 1;
      const pump = (): void => {
        while (left > 0 && !socket.destroyed) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            socket.once("drain", pump);
            return;
          }
        }
      };
      pump();
    });
  };
  for (let i = 0; i < clients; i++) client();
  return {
    refused: () => refused,
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/** GET /healthz every `everyMs` until stopped; the longest answer, ms. */
export function pollHealthz(port: number, everyMs: number): { stop(): Promise<number> } {
  let longest = 0;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const at = performance.now();
      const req = httpRequest({ host: "127.0.0.1", port, path: "/healthz", agent: false }, (res) => {
        res.resume();
        res.on("end", () => {
          longest = Math.max(longest, performance.now() - at);
          resolve();
        });
      });
      req.on("error", () => { resolve(); });
      req.end();
    });
  const loop = (): void => {
    if (stopped) return;
    inFlight = once().then(() => { setTimeout(loop, everyMs); });
  };
  loop();
  return {
    async stop() {
      stopped = true;
      await inFlight;
      return longest;
    },
  };
}

export function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0");
  return kb / 1024;
}

/** CPU time (user + system, every thread) the process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat, after the command in parentheses (which may hold spaces).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * How long the process's main thread has waited, runnable, for a CPU so far, in ms: time another
 * process (or thread) on this machine held both cores. From /proc/PID/schedstat, the thread group
 * leader's own line: time on a CPU, time waiting on a run queue (ns), slices run.
 */
export function runQueueMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e6;
}

/** Sets the nice value of every thread `pid` has now (setpriority() on a pid reaches only its main thread on Linux). */
export function reniceThreads(pid: number, nice: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice);
}

/** Reviews answered per second by `clients` connections sending back to back (closed loop) for `durationMs`. */
export async function capacity(port: number, ca: string, clients: number, durationMs: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const end = performance.now() + durationMs;
  let answered = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      if ((await post(port, ca, agent)).status === 200) answered++;
    }
  }));
  agent.destroy();
  return answered / (durationMs / 1000);
}
