// A review thread that never answers: it spins at the first review it is given (pool.test.ts).
import { parentPort } from "node:worker_threads";

parentPort?.on("message", (message: unknown) => {
  if (typeof message !== "number") return;
  for (;;) { /* a bug that loops */ }
});
