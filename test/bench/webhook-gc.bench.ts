// What the image's Node flags (Dockerfile ENTRYPOINT, e.g. a small young generation) cost the webhook:
// the webhook server in its own process, with and without them, under the same keep-alive load.
// Smaller semi-spaces mean more scavenges; what matters is whether review latency notices.
import { fork } from "node:child_process";
import { once } from "node:events";
import { Agent } from "node:https";
import { join } from "node:path";
import { imageNodeFlags } from "./image.ts";
import type { BenchReport } from "./report.ts";
import { postReview } from "./review.ts";
import type { GcStats } from "./webhook-process.ts";

const clients = 4;
const warmupReviews = 3_000;
const reviews = 20_000;
/** Alternating runs of each configuration, so that load from other processes hits both alike. */
const runs = 2;

interface Measured {
  readonly latencies: number[];
  readonly gc: GcStats;
  /** RSS once listening, before any review. */
  readonly startRssMb: number;
}

async function measure(nodeFlags: readonly string[]): Promise<Measured> {
  const child = fork(join(import.meta.dirname, "webhook-process.ts"), [], { execArgv: [...nodeFlags], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  try {
    const [{ port, ca, rssMb: startRssMb }] = (await once(child, "message")) as [{ port: number; ca: string; rssMb: number }];
    const latencies: number[] = [];
    const load = async (count: number, record: boolean): Promise<void> => {
      let sent = 0;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (sent < count) {
            sent++;
            const t0 = performance.now();
            await postReview(port, ca, agent);
            if (record) latencies.push(performance.now() - t0);
          }
        }),
      );
    };
    await load(warmupReviews, false);
    child.send("reset");
    await once(child, "message");
    await load(reviews, true);
    child.send("stats");
    const [gc] = (await once(child, "message")) as [GcStats];
    return { latencies, gc, startRssMb };
  } finally {
    agent.destroy();
    child.kill();
  }
}

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export async function run(report: BenchReport): Promise<void> {
  const flags = imageNodeFlags();
  const imageFlags = `image flags (${flags.join(" ") || "none"})`;
  const configurations = [
    { name: "Node defaults", flags: [] as string[] },
    { name: imageFlags, flags },
  ];
  const results = configurations.map(() => ({ latencies: [] as number[], gcs: [] as GcStats[], startRssMb: [] as number[] }));
  for (let i = 0; i < runs; i++) {
    for (const [index, configuration] of configurations.entries()) {
      const measured = await measure(configuration.flags);
      results[index]?.latencies.push(...measured.latencies);
      results[index]?.gcs.push(measured.gc);
      results[index]?.startRssMb.push(measured.startRssMb);
    }
  }
  report.section(`Webhook GC with the image's Node flags (own process, ${clients} keep-alive clients, ${runs}×${reviews.toLocaleString("en")} reviews each)`);
  for (const [index, configuration] of configurations.entries()) {
    const result = results[index];
    if (result === undefined) continue;
    const total = (pick: (g: GcStats) => number): number => result.gcs.reduce((sum, g) => sum + pick(g), 0);
    const count = runs * reviews;
    report.row(`${configuration.name}: scavenges per 1,000 reviews`, (total((g) => g.scavenges) / count) * 1000, "scavenges");
    report.row(`${configuration.name}: scavenge time per review`, (total((g) => g.scavengeMs) / count) * 1000, "µs");
    report.row(`${configuration.name}: longest scavenge`, Math.max(...result.gcs.map((g) => g.scavengeMaxMs)), "ms");
    report.row(`${configuration.name}: full GCs`, total((g) => g.fullGcs), "GCs");
    report.row(`${configuration.name}: review p50 latency`, percentile(result.latencies, 0.5), "ms");
    report.row(`${configuration.name}: review p99 latency`, percentile(result.latencies, 0.99), "ms", { target: 5 });
    report.row(`${configuration.name}: RSS when started`, Math.max(...result.startRssMb), "MB");
    report.row(`${configuration.name}: RSS after the load`, Math.max(...result.gcs.map((g) => g.rssMb)), "MB");
  }
}
