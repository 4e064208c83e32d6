// The informers' watch against a loopback server that writes a burst of events at once: every event
// arrives, in order, with the event loop turning between slices, and abort() stops the delivery.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { makeTransport } from "../../../injector/informers/client.ts";
import { startWatch, watchBusyShare } from "../../../injector/informers/watch.ts";

let server: Server | undefined;
const held: ServerResponse[] = [];

afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (server === undefined) { resolve(); return; }
    server.close(() => { resolve(); });
    server.closeAllConnections();
  });
  server = undefined;
  held.length = 0;
});

/** A server answering every watch with `body`, in one write; `hold` keeps the response open after it. */
async function serve(body: string, hold = false): Promise<KubeConfig> {
  server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    if (hold) {
      res.write(`${body}\n`);
      held.push(res);
    } else res.end(body);
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

function events(n: number): string {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ type: "MODIFIED", object: { metadata: { name: `s${i}`, resourceVersion: String(i) } } })).join("\n");
}

/** Counts turns of the event loop (one setImmediate each) until stopped. */
function countTurns(): { turns(): number; stop(): void } {
  let turns = 0;
  let counting = true;
  const turn = (): void => {
    turns++;
    if (counting) setImmediate(turn);
  };
  setImmediate(turn);
  return { turns: () => turns, stop: () => { counting = false; } };
}

const request = { path: "/api/v1/things", params: {}, accept: "application/json", idleTimeoutMs: 5_000 };

describe("the informers' watch", () => {
  it("hands over a burst one slice at a time, in order, with the event loop turning in between, then ends", async () => {
    const kc = await serve(`${events(300)}\nnot json\n`);
    const seen: string[] = [];
    const loop = countTurns();
    const turnsAt: number[] = [];
    // A slice of 0 ms: one event per turn of the event loop.
    const watch = startWatch(makeTransport(kc), { ...request, sliceMs: 0 }, (type, obj) => {
      seen.push(`${type} ${(obj as { metadata: { name: string } }).metadata.name}`);
      turnsAt.push(loop.turns());
    });
    const ended = await watch.ended;
    loop.stop();
    expect(ended).toBeUndefined();
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => `MODIFIED s${i}`));
    // Never two events in one turn.
    for (let i = 1; i < turnsAt.length; i++) expect(turnsAt[i], `event ${i}`).toBeGreaterThan(turnsAt[i - 1] ?? -1);
  });

  it("with the default slice, delivers a burst over several turns of the event loop", async () => {
    const kc = await serve(events(2_000));
    const loop = countTurns();
    let delivered = 0;
    const watch = startWatch(makeTransport(kc), request, () => {
      delivered++;
      // About 10 µs of work per event: 2,000 events are ~20 ms, ten 2 ms slices or more.
      const until = performance.now() + 0.01;
      while (performance.now() < until) { /* busy */ }
    });
    const turnsBefore = loop.turns();
    await watch.ended;
    loop.stop();
    expect(delivered).toBe(2_000);
    expect(loop.turns() - turnsBefore).toBeGreaterThanOrEqual(5);
  });

  it("while other work waits, takes about its share of the time, and all of it when nothing else waits", async () => {
    const busy = (ms: number): void => {
      const until = performance.now() + ms;
      while (performance.now() < until) { /* busy */ }
    };
    /** The share of wall time the watch's events took, delivering 2,000 of about 0.1 ms each, beside `load`. */
    const share = async (busyShare: number | undefined, load: boolean): Promise<number> => {
      const kc = await serve(events(2_000));
      let handling = 0;
      let running = true;
      const other = (): void => {
        if (!running) return;
        busy(1); // e.g. webhook reviews arriving back to back
        setImmediate(other);
      };
      if (load) setImmediate(other);
      const started = performance.now();
      const watch = startWatch(makeTransport(kc), { ...request, ...(busyShare === undefined ? {} : { busyShare }) }, () => {
        const t = performance.now();
        busy(0.1);
        handling += performance.now() - t;
      });
      await watch.ended;
      running = false;
      const wall = performance.now() - started;
      await new Promise<void>((resolve) => {
        server?.close(() => { resolve(); });
        server?.closeAllConnections();
      });
      server = undefined;
      return handling / wall;
    };
    expect(await share(undefined, false)).toBeGreaterThan(0.6);
    expect(await share(undefined, true)).toBeLessThan(watchBusyShare + 0.1);
    // Without the share, the watch takes what its slices allow: about two thirds beside 1 ms turns.
    expect(await share(1, true)).toBeGreaterThan(watchBusyShare + 0.2);
  });

  it("stops at once when aborted, delivering nothing more", async () => {
    const kc = await serve(events(1000));
    let delivered = 0;
    const watch = startWatch(makeTransport(kc), { ...request, sliceMs: 0 }, () => {
      delivered++;
      if (delivered === 10) watch.abort();
    });
    expect(await watch.ended).toBeUndefined();
    const after = delivered;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(delivered).toBe(after);
    expect(delivered).toBeLessThan(1000);
  });
});

describe("the informers' watch, ended between slices of a burst on a connection still open", () => {
  // The response's "aborted" error arrives after the loop has stopped listening: without a listener
  // it would end the process (readline re-emitted it so; found by the webhook bench at shutdown).
  it("abort(): ends quietly, delivering nothing more", async () => {
    const kc = await serve(events(1000), true);
    let delivered = 0;
    const watch = startWatch(makeTransport(kc), { ...request, sliceMs: 0 }, () => {
      delivered++;
      if (delivered === 10) setImmediate(() => { watch.abort(); });
    });
    expect(await watch.ended).toBeUndefined();
    const after = delivered;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(delivered).toBe(after);
    expect(delivered).toBeLessThan(1000);
  });

  it("the server cuts the connection: ends with the error (so the informer resumes), after the events that arrived", async () => {
    const kc = await serve(events(1000), true);
    let delivered = 0;
    const watch = startWatch(makeTransport(kc), { ...request, sliceMs: 0 }, () => {
      delivered++;
      if (delivered === 10) for (const res of held) res.socket?.destroy();
    });
    expect(await watch.ended).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(delivered).toBeGreaterThanOrEqual(10);
  });
});
