// Processes that do not end, each its own way, for watchdog.test.ts: `node test/sim/hangs.ts MODE`.
// Each starts the exit watchdog with a short deadline and a `sleep` child in a process group of its
// own (as the simulation starts its children), and prints the child's pid.
//   spin      its event loop never returns (a synchronous loop)
//   teardown  its JavaScript ends, but Node's teardown waits forever for a TCP handle that a refused
//             reset left open (the demo's hang, issue 18; proxy.ts, resetOrClose)
//   exit      it ends by itself
import { spawn } from "node:child_process";
import { connect, createServer, type AddressInfo } from "node:net";
import { startExitWatchdog } from "./watchdog.ts";

const mode = process.argv[2];
const watchdog = startExitWatchdog("hangs", 500);
// As the demo's (children.ts): a handler that needs the event loop, so SIGTERM alone cannot stop these.
process.on("SIGTERM", () => process.exit(143));
const child = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
child.unref();
process.stdout.write(`child ${String(child.pid)}\n`);

if (mode === "spin") {
  watchdog.deadline(500, "spinning");
  setTimeout(() => {
    for (;;) {
      // Never returns to the event loop.
    }
  }, 50);
} else if (mode === "teardown") {
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.end();
    socket.resetAndDestroy();
    server.close();
  });
  server.listen(0, "127.0.0.1", () => {
    const client = connect((server.address() as AddressInfo).port, "127.0.0.1");
    client.on("error", () => undefined);
    client.resume();
  });
} else if (mode === "exit") {
  watchdog.deadline(10_000, "not ended");
  process.kill(-(child.pid ?? 0), "SIGKILL");
} else {
  throw new Error(`hangs.ts: unknown mode ${String(mode)}`);
}
