// The admission webhook server alone in a process (for webhook-gc.bench.ts): sends {port, ca, rssMb}
// once listening; on "reset" zeroes its GC counters, on "stats" reports them, on "exit" exits.
import { PerformanceObserver, constants } from "node:perf_hooks";
import { makeWebhookServer } from "../../injector/admission/server.ts";
import { silentLogger } from "../../injector/log.ts";
import { makeTestReviewer } from "../support/admission.ts";
import { testPki } from "../support/https.ts";

export interface GcStats {
  readonly scavenges: number;
  readonly scavengeMs: number;
  readonly scavengeMaxMs: number;
  readonly fullGcs: number;
  readonly rssMb: number;
}

const pki = await testPki();
const { review, metrics } = makeTestReviewer();
const server = makeWebhookServer({ tls: pki.serving, review, metrics, logger: silentLogger });
let stats = { scavenges: 0, scavengeMs: 0, scavengeMaxMs: 0, fullGcs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    // GC entries carry {kind} in detail, which the PerformanceEntry type leaves out.
    const kind = (entry as { readonly detail?: { readonly kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      stats.scavenges++;
      stats.scavengeMs += entry.duration;
      stats.scavengeMaxMs = Math.max(stats.scavengeMaxMs, entry.duration);
    } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      stats.fullGcs++;
    }
  }
}).observe({ entryTypes: ["gc"] });
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ port: typeof address === "object" && address !== null ? address.port : 0, ca: pki.ca.cert, rssMb: process.memoryUsage().rss / 1_048_576 });
});
process.on("message", (message) => {
  if (message === "reset") {
    stats = { scavenges: 0, scavengeMs: 0, scavengeMaxMs: 0, fullGcs: 0 };
    process.send?.("reset");
  } else if (message === "stats") {
    // GC entries are delivered asynchronously: let the last ones arrive.
    setTimeout(() => process.send?.({ ...stats, rssMb: process.memoryUsage().rss / 1_048_576 } satisfies GcStats), 100);
  } else if (message === "exit") {
    process.exit(0);
  }
});
