// Node.js process metrics (prom-client's defaults: process_*, nodejs_*), less the work that would
// hold the event loop on every scrape in proportion to the open connections. With the oracle holding
// 10,000 long-polls, a scrape stopped the webhook's reviews for 31-69 ms (8,670 open sockets):
// readdirSync("/proc/self/fd") took 13-45 ms of it, process._getActiveHandles() 5-6 ms. The count of
// open descriptors is read off the event loop instead; nodejs_active_handles is left out
// (nodejs_active_resources, from process.getActiveResourcesInfo(), says the same for 1 ms).
import { readdir } from "node:fs/promises";
import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ["process_open_fds", "nodejs_active_handles", "nodejs_active_handles_total"]) registry.removeSingleMetric(name);
  new Gauge({
    name: "process_open_fds",
    help: "Number of open file descriptors.",
    registers: [registry],
    async collect() {
      // Read by libuv's thread pool; absent where there is no /proc.
      const fds = await readdir("/proc/self/fd").catch(() => undefined);
      if (fds !== undefined) this.set(fds.length);
    },
  });
}
