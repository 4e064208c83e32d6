// A review thread that exits at the first review it is given (pool.test.ts).
import { parentPort } from "node:worker_threads";

parentPort?.on("message", (message: unknown) => {
  if (typeof message === "number") process.exit(3);
});
