// The controller as the oracle benches run it: the built bundle (dist/lameduck.mjs run) in a child
// process with the image's Node flags, so that its RSS is its own, against a fake API server in the
// bench's process; plus the measurements the benches share.
import { metricSum as sumOfMetric } from "../support/metrics.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort, httpGet } from "../controllers/harness.ts";
import { imageNodeFlags } from "./image.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

export interface BenchController {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly oraclePort: number;
  readonly metricsPort: number;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function spawnController(kubeconfigYaml: string, flags: readonly string[] = []): Promise<BenchController> {
  const dir = mkdtempSync(join(tmpdir(), "lameduck-bench-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml);
  const [oraclePort, metricsPort, webhookPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      ...imageNodeFlags(),
      join(root, "dist", "lameduck.mjs"),
      "run",
      `--kubeconfig=${kubeconfig}`,
      `--hook-dir=${join(root, "dist")}`,
      "--bind-address=127.0.0.1",
      `--oracle-port=${oraclePort}`,
      `--metrics-port=${metricsPort}`,
      `--webhook-port=${webhookPort}`,
      "--webhook-url=https://127.0.0.1/mutate",
      "--log-level=warn",
      ...flags,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return {
    child,
    pid: child.pid ?? 0,
    oraclePort,
    metricsPort,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

function status(pid: number, field: "VmRSS" | "VmHWM"): number {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? "0") / 1024;
}

/** Resident set size now, in MB. */
export function rssMb(pid: number): number {
  return status(pid, "VmRSS");
}

/** The highest resident set size the process has had, in MB. */
export function peakRssMb(pid: number): number {
  return status(pid, "VmHWM");
}

export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function ready(c: BenchController, timeoutMs: number): Promise<void> {
  await until("the controller to be ready", async () => (await httpGet(c.metricsPort, "/readyz").catch(() => "")).startsWith("200"), timeoutMs, 100);
}

/** Sum of a metric's series from the controller's /metrics (see metricSum in test/support/metrics.ts). */
export async function metricSum(port: number, name: string): Promise<number> {
  return sumOfMetric(await httpGet(port, "/metrics"), name);
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Runs `task` over `items` with at most `concurrency` at once. */
export async function inParallel<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const item = items[i];
      if (item !== undefined) await task(item, i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * A hook's questions about `uid` on raw sockets from `localAddress` (a pod's hook comes from its pod's
 * IP): `wait=30`, asked again after `serving`, as the hook does. Resolves with the first other answer
 * (or a connection that ended without one) and when it came.
 */
export async function askUntilReleased(port: number, uid: string, sockets: Set<Socket>, localAddress: string): Promise<{ body: string; at: number }> {
  const once = (): Promise<string> =>
    new Promise((resolve) => {
      const socket = connect({ port, host: "127.0.0.1", localAddress });
      sockets.add(socket);
      let data = "";
      socket.setEncoding("utf8");
      socket.on("connect", () => socket.write(`GET /v1/pods/${uid}/drain?wait=30 HTTP/1.1\r\nHost: oracle\r\n\r\n`));
      socket.on("data", (chunk: string) => (data += chunk));
      socket.on("error", () => undefined);
      socket.on("close", () => {
        sockets.delete(socket);
        const split = data.indexOf("\r\n\r\n");
        resolve(split < 0 ? `(no answer: ${data.slice(0, 40)})` : data.slice(split + 4));
      });
    });
  for (;;) {
    const body = await once();
    if (!body.startsWith("serving")) return { body, at: performance.now() };
  }
}
