// Runs the controller (informers, distributor, oracle) in the test process against a KubeConfig,
// with time shortened: reconnect and restart delays capped at 50 ms.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach } from "vitest";
import { Registry } from "prom-client";
import { parseRunConfig, type RunConfig } from "../../injector/config.ts";
import { silentLogger, type Logger } from "../../injector/log.ts";
import { startController, type Controller } from "../../injector/run.ts";
import { startFakeApi, type FakeApi, type FakeApiOptions } from "../fakeapi/index.ts";

export interface TestController extends Controller {
  readonly registry: Registry;
  readonly config: RunConfig;
  /** Value of one metric series, 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** A hook directory with stand-in binaries: the distributor only hashes and ships them. */
export function fakeHookDir(tag = "v1"): string {
  const dir = mkdtempSync(join(tmpdir(), "lameduck-hookdir-"));
  writeFileSync(join(dir, "hook-amd64"), `amd64 hook ${tag}`);
  writeFileSync(join(dir, "hook-arm64"), `arm64 hook ${tag}`);
  return dir;
}

export async function startTestController(
  kc: KubeConfig,
  options: { hookDir: string; args?: readonly string[]; gcRetryMs?: number; resyncMs?: number; logger?: Logger; admission?: boolean; webhookPort?: number; admissionStartWaitMs?: number },
): Promise<TestController> {
  const parsed = parseRunConfig(["--hook-dir", options.hookDir, "--bind-address", "127.0.0.1", ...(options.args ?? [])], {}, options.hookDir);
  const config: RunConfig = { ...parsed, oraclePort: 0, metricsPort: 0, webhookPort: options.webhookPort ?? 0 };
  const registry = new Registry();
  const controller = await startController(config, {
    kc,
    logger: options.logger ?? silentLogger,
    registry,
    instance: "test",
    // The webhook has its own suites; these test the controllers unless a test asks for it.
    admission: options.admission ?? false,
    ...(options.admissionStartWaitMs === undefined ? {} : { admissionStartWaitMs: options.admissionStartWaitMs }),
    informerDelay: (ms) => sleep(Math.min(ms, 50)),
    ...(options.gcRetryMs === undefined ? {} : { gcRetryMs: options.gcRetryMs }),
    ...(options.resyncMs === undefined ? {} : { resyncMs: options.resyncMs }),
  });
  return {
    ...controller,
    registry,
    config,
    async metric(name, labels = {}) {
      const metric = registry.getSingleMetric(name);
      if (metric === undefined) return 0;
      const { values } = await metric.get();
      const found = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
      return found?.value ?? 0;
    },
  };
}

/** A test controller with stand-in hook binaries, pushed onto `running` (stopped after the test), once its caches synced. */
export async function syncedController(kc: KubeConfig, running: TestController[], options: Partial<Parameters<typeof startTestController>[1]> = {}): Promise<TestController> {
  const c = await startTestController(kc, { hookDir: fakeHookDir(), ...options });
  running.push(c);
  await eventually("caches synced", () => c.informers.hasSynced());
  return c;
}

/** Polls `check` every 20 ms until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
    await sleep(20);
  }
}

/**
 * A request body written as plain JSON. client-node types bodies as its model classes, which the
 * lint rule no-unsafe-class-instance-assignment rejects for literals; the API only sees JSON.
 */
export function body<T extends object>(json: { readonly [K in keyof T]?: unknown }): T {
  return json as T;
}

/** "<status> <body>" of a GET on loopback. */
export function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => {
        resolve(`${res.statusCode ?? 0} ${body}`);
      });
    })
      .on("error", reject)
      .end();
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}


/** The oracle's answer to GET /v1/pods/<uid>/drain?wait=<wait>: the body, or "<status> <body>" when not 200. */
export function ask(port: number, uid: string, wait: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: `/v1/pods/${uid}/drain?wait=${wait}`, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => {
        resolve(res.statusCode === 200 ? body : `${res.statusCode ?? 0} ${body}`);
      });
    });
    req.on("error", reject);
    req.end();
  });
}

export interface RunProcess {
  readonly child: ChildProcess;
  readonly oraclePort: number;
  readonly metricsPort: number;
  readonly webhookPort: number;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** stdout and stderr so far: the JSON log lines. */
  output(): string;
}

const root = fileURLToPath(new URL("../../", import.meta.url));

/** `lameduck run` as a child process (injector/main.ts on the project's Node), on loopback ports, its webhook registered by URL. */
export async function spawnRun(kubeconfigYaml: string, args: readonly string[]): Promise<RunProcess> {
  const dir = mkdtempSync(join(tmpdir(), "lameduck-run-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml);
  const [oraclePort, metricsPort, webhookPort] = [await freePort(), await freePort(), await freePort()];
  let output = "";
  const child = spawn(
    process.execPath,
    [join(root, "injector", "main.ts"), "run", `--kubeconfig=${kubeconfig}`, `--hook-dir=${fakeHookDir()}`, "--bind-address=127.0.0.1", `--oracle-port=${oraclePort}`, `--metrics-port=${metricsPort}`, `--webhook-port=${webhookPort}`, `--webhook-url=https://127.0.0.1:${webhookPort}/mutate`, ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { child, oraclePort, metricsPort, webhookPort, exited, output: () => output };
}

export interface FakeApiClients {
  readonly api: FakeApi;
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
}

/**
 * A fresh fake API server for every test in the file, handed to `use` before each test; after it,
 * what the test pushed onto `stoppables` is stopped, then the server closes.
 */
export function withFakeApi(stoppables: { stop(): Promise<void> }[], use: (clients: FakeApiClients) => void, options: FakeApiOptions = {}): void {
  let api: FakeApi | undefined;
  beforeEach(async () => {
    api = await startFakeApi(options);
    const kc = api.kubeConfig();
    use({ api, kc, core: kc.makeApiClient(CoreV1Api) });
  });
  afterEach(async () => {
    await Promise.all(stoppables.splice(0).map((s) => s.stop()));
    await api?.close();
  });
}
