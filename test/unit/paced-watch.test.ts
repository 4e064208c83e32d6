// The paced watch against a loopback server that writes a burst of events at once: every event
// arrives, in order, with the event loop turning between them, and the watch ends as client-node's.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { PacedWatch } from "../../injector/informers/paced-watch.ts";

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (server === undefined) { resolve(); return; }
    server.close(() => { resolve(); });
    server.closeAllConnections();
  });
  server = undefined;
});

/** A server answering every watch with `body` (or the status), then closing. */
async function serve(status: number, body: string): Promise<KubeConfig> {
  server = createServer((_req, res) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(body);
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

describe("the paced watch", () => {
  it("hands over a burst one slice at a time, in order, with the event loop turning in between, then ends", async () => {
    const kc = await serve(200, `${events(300)}\nnot json\n`);
    const seen: string[] = [];
    let turns = 0;
    let watching = true;
    const turn = (): void => {
      turns++;
      if (watching) setImmediate(turn);
    };
    setImmediate(turn);
    const turnsAt: number[] = [];
    const done = await new Promise<unknown>((resolve) => {
      // A slice of 0 ms: one event per turn of the event loop.
      void new PacedWatch(kc, 0).watch("/api/v1/things", { resourceVersion: "0" }, (phase, obj) => {
        seen.push(`${phase} ${(obj as { metadata: { name: string } }).metadata.name}`);
        turnsAt.push(turns);
      }, resolve);
    });
    watching = false;
    expect(done).toBeNull();
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => `MODIFIED s${i}`));
    // Never two events in one turn.
    for (let i = 1; i < turnsAt.length; i++) expect(turnsAt[i], `event ${i}`).toBeGreaterThan(turnsAt[i - 1] ?? -1);
  });

  it("ends with the status of a watch the API server refuses, as client-node's does (410 relists)", async () => {
    const kc = await serve(410, JSON.stringify({ kind: "Status", code: 410 }));
    const done = await new Promise<unknown>((resolve) => {
      void new PacedWatch(kc).watch("/api/v1/things", {}, () => undefined, resolve);
    });
    expect(done).toBeInstanceOf(Error);
    expect((done as { statusCode?: number }).statusCode).toBe(410);
  });

  it("stops at once when the ListWatch aborts it, delivering nothing more", async () => {
    const kc = await serve(200, events(1000));
    let delivered = 0;
    let controller: AbortController | undefined;
    const done = await new Promise<unknown>((resolve) => {
      void new PacedWatch(kc, 0).watch("/api/v1/things", {}, () => {
        delivered++;
        if (delivered === 10) controller?.abort();
      }, resolve).then((c) => { controller = c; });
    });
    const after = delivered;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(done).toBeDefined();
    expect(delivered).toBe(after);
    expect(delivered).toBeLessThan(1000);
  });
});
