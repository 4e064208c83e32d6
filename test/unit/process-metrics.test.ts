import { readdirSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { registerProcessMetrics } from "../../injector/process-metrics.ts";
import { metricSum } from "../support/metrics.ts";

describe("the Node.js process metrics", () => {
  it("count the open descriptors off the event loop, and leave out the per-handle walk", async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    // 200 more descriptors (both ends of 100 loopback connections), counted.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const accepted = new Promise<void>((resolve) => {
      let n = 0;
      server.on("connection", () => { if (++n === 100) resolve(); });
    });
    const sockets: Socket[] = Array.from({ length: 100 }, () => connect(port, "127.0.0.1"));
    await accepted;
    try {
      const before = readdirSync("/proc/self/fd").length;
      const text = await registry.metrics();
      const counted = metricSum(text, "process_open_fds");
      expect(counted).toBeGreaterThanOrEqual(200);
      expect(Math.abs(counted - before)).toBeLessThanOrEqual(5);
      expect(text).toContain("# TYPE process_open_fds gauge");
      expect(text).not.toContain("nodejs_active_handles");
      expect(metricSum(text, "nodejs_active_resources_total")).toBeGreaterThanOrEqual(200);
      for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_max_seconds", "nodejs_heap_size_used_bytes", "process_max_fds"]) expect(text).toContain(`# TYPE ${name} `);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    }
  });
});
