// Starting a pod's app (app.ts) as the simulated kubelet does: the app asks for its listening socket
// over the IPC channel once it can receive it (a message sent earlier, while the child is still
// loading its modules, would be lost) and gets the listener bound for the pod's containerPort
// (ports.ts); it then says `listening <port>` with the port it serves on.
import type { ChildProcess } from "node:child_process";
import type { Server } from "node:net";
import { fileURLToPath } from "node:url";
import type { Children } from "./children.ts";

const appPath = fileURLToPath(new URL("./app.ts", import.meta.url));
const startTimeoutMs = 15_000;

/** What app.ts sends to ask for its listener, and the message that carries it. */
export const AppMessage = { askListener: "send-listener", listener: "listener" } as const;

export function spawnApp(children: Children, listener: Server, latencyMs: number): ChildProcess {
  const app = children.spawn(process.execPath, [appPath, "--listener-from-parent", `--latency-ms=${String(latencyMs)}`], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  let handedOver = false;
  app.once("message", (message: unknown) => {
    if (message !== AppMessage.askListener || handedOver) return;
    handedOver = true;
    // Once sent, the app holds its own copy of the socket; this process's copy must not accept.
    app.send(AppMessage.listener, listener, () => { listener.close(); });
  });
  app.once("exit", () => {
    if (!handedOver) listener.close();
  });
  return app;
}

/** Resolves with the port the app says it serves on (`listening <port>`). */
export function waitListening(app: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => { reject(new Error("app did not listen in time")); }, startTimeoutMs);
    app.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const said = /^listening (\d+)$/m.exec(out);
      if (said) {
        clearTimeout(timer);
        resolve(Number(said[1]));
      }
    });
    app.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`app exited with ${String(code)} before listening`));
    });
  });
}
