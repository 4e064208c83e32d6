// A tenant labels 250 ConfigMaps of 900 KB as lameduck's (app.kubernetes.io/managed-by=lameduck, a
// label anyone may set): the controller's peak RSS while it starts, against a start without them in
// the same run, and that it stays up and ready.
import { CoreV1Api, type V1ConfigMap, type V1Namespace } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { body, httpGet } from "../controllers/harness.ts";
import { startFakeApi } from "../fakeapi/index.ts";
import { inParallel, peakRssMb, ready, rssMb, spawnController, type BenchController } from "./oracle-controller.ts";
import type { BenchReport } from "./report.ts";

const configMaps = 250;
const sizeBytes = 900_000;

async function started(kubeconfigYaml: string): Promise<{ controller: BenchController; ms: number }> {
  const t0 = performance.now();
  const controller = await spawnController(kubeconfigYaml);
  await ready(controller, 120_000);
  return { controller, ms: performance.now() - t0 };
}

export async function run(report: BenchReport): Promise<void> {
  report.section("Tenant ConfigMaps labelled as lameduck's (controller in a child process)");
  const api = await startFakeApi();
  const core = api.kubeConfig().makeApiClient(CoreV1Api);
  const running: BenchController[] = [];
  try {
    for (const name of ["lameduck-system", "tenant"]) await core.createNamespace({ body: body<V1Namespace>({ metadata: { name } }) });

    const base = await started(api.kubeconfigYaml());
    running.push(base.controller);
    await sleep(2_000);
    const basePeak = peakRssMb(base.controller.pid);
    report.row("baseline: peak RSS while starting, no tenant ConfigMaps", Math.round(basePeak), "MB");
    await base.controller.stop();

    // Each 900 KB of distinct content, as a tenant's data would be.
    const blob = (i: number): string => `${String(i).padStart(6, "0")}${"abcdefghij".repeat(sizeBytes / 10)}`.slice(0, sizeBytes);
    await inParallel(
      Array.from({ length: configMaps }, (_, i) => i),
      8,
      async (i) => {
        await core.createNamespacedConfigMap({
          namespace: "tenant",
          body: body<V1ConfigMap>({ metadata: { name: `tenant-${i}`, labels: { "app.kubernetes.io/managed-by": "lameduck" } }, data: { blob: blob(i) } }),
        });
      },
    );

    const loaded = await started(api.kubeconfigYaml());
    running.push(loaded.controller);
    const pid = loaded.controller.pid;
    const peakAtReady = peakRssMb(pid);
    // Stays up: still ready after a while, through at least one reconnect of every watch.
    await sleep(35_000);
    const stillReady = (await httpGet(loaded.controller.metricsPort, "/readyz").catch(() => "")).startsWith("200");
    const peak = peakRssMb(pid);
    report.row(`peak RSS while starting with ${configMaps} labelled ${sizeBytes / 1000} KB ConfigMaps`, Math.round(peak), "MB", {
      target: 250,
      ratio: peak / basePeak,
      baseline: "no tenant ConfigMaps",
    });
    report.row("  of which reached by the time it was ready", Math.round(peakAtReady), "MB");
    report.row("RSS 35 s after ready", Math.round(rssMb(pid)), "MB");
    report.row("time to ready with them", Math.round(loaded.ms), "ms", { ratio: loaded.ms / base.ms, baseline: "without" });
    report.row("still running and ready 35 s later", stillReady && loaded.controller.child.exitCode === null ? 1 : 0, "yes", { pass: stillReady && loaded.controller.child.exitCode === null });
  } finally {
    await Promise.all(running.map((c) => c.stop()));
    await api.close();
  }
}
