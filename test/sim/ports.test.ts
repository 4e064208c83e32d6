import { readFileSync } from "node:fs";
import { get } from "node:http";
import { createServer, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parseAppArgs } from "./app.ts";
import { spawnApp, waitListening } from "./appprocess.ts";
import { makeChildren } from "./children.ts";
import { makeListeners, reservePort } from "./ports.ts";

const children = makeChildren();
const listeners = makeListeners("127.0.0.1");

afterEach(async () => {
  children.killAll();
  await listeners.close();
});

function listen(server: Server, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    server.once("error", resolve);
    server.listen(port, "127.0.0.1", () => { resolve(undefined); });
  });
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => { resolve(body); });
    }).on("error", reject);
  });
}

describe("the simulation's ports", () => {
  it("a pod's port is bound before the pod exists, and nobody else can take it until its app serves on it", async () => {
    const port = await listeners.open();
    const other = createServer();
    expect((await listen(other, port))?.code).toBe("EADDRINUSE");
    const listener = listeners.take(port);
    if (!listener) throw new Error("no listener held");
    const app = spawnApp(children, listener, 0);
    expect(await waitListening(app)).toBe(port);
    expect(await httpGet(port)).toBe(`ok ${String(app.pid)}\n`);
    // Still taken, now by the app.
    expect((await listen(other, port))?.code).toBe("EADDRINUSE");
    expect(listeners.take(port)).toBeUndefined();
  });

  it("the app on its own listens on port 0 and reports the port it got", async () => {
    const app = children.spawn(process.execPath, [fileURLToPath(new URL("./app.ts", import.meta.url)), "--port=0"], { stdio: ["ignore", "pipe", "inherit"] });
    const port = await waitListening(app);
    expect(port).toBeGreaterThan(0);
    expect(await httpGet(port)).toBe(`ok ${String(app.pid)}\n`);
  });

  it("the app takes exactly one of --port and --listener-from-parent", () => {
    expect(() => parseAppArgs([])).toThrow(/exactly one of --port and --listener-from-parent/);
    expect(() => parseAppArgs(["--port=1", "--listener-from-parent"])).toThrow(/exactly one/);
    expect(() => parseAppArgs(["--port=70000"])).toThrow(/--port must be a TCP port or 0, got 70000/);
    expect(parseAppArgs(["--listener-from-parent"])).toMatchObject({ port: undefined });
  });

  it("a reserved port is parked in TIME_WAIT, which a listener may still bind", async () => {
    const port = await reservePort("127.0.0.1");
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    // State 06 is TIME_WAIT: the kernel's own port choice skips the port while it lasts.
    const timeWait = readFileSync("/proc/net/tcp", "utf8").split("\n").some((l) => l.trim().split(/\s+/)[1] === `0100007F:${hex}` && l.trim().split(/\s+/)[3] === "06");
    expect(timeWait).toBe(true);
    const server = createServer();
    expect(await listen(server, port)).toBeUndefined();
    await new Promise((resolve) => server.close(resolve));
  });
});
