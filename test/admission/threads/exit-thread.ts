// A review thread that exits at the first review it is given (pool.test.ts).
import { workerData } from "node:worker_threads";
import { doorbell, type ReviewThreadData } from "../../../injector/admission/thread-protocol.ts";

const control = new Int32Array((workerData as ReviewThreadData).control);
for (;;) {
  const rung = Atomics.load(control, doorbell);
  if (control.subarray(1).some((request) => request !== 0)) process.exit(3);
  Atomics.wait(control, doorbell, rung);
}
