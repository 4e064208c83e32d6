import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { parseInjectConfig } from "../../injector/config.ts";
import { runInject, type InjectIo } from "../../injector/offline/command.ts";
import { applyOps, makeTestReviewer, patchOf, podReview, testFacts } from "../support/admission.ts";

const root = join(import.meta.dirname, "..", "..");
const clusterFlags = ["--oracle=10.96.40.7:8080", "--hook-configmap=lameduck-hook-3f2a9c1e", "--arch=amd64"];

const podSpec = { containers: [{ name: "app", image: "registry.example/app:1" }] };
const template = { metadata: { labels: { app: "web" } }, spec: podSpec };
const workloads: Record<string, unknown> = {
  Pod: { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "shop" }, spec: podSpec },
  Deployment: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d", namespace: "shop" }, spec: { selector: { matchLabels: { app: "web" } }, template } },
  StatefulSet: { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "s", namespace: "shop" }, spec: { serviceName: "s", template } },
  DaemonSet: { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "ds", namespace: "shop" }, spec: { template } },
  ReplicaSet: { apiVersion: "apps/v1", kind: "ReplicaSet", metadata: { name: "rs", namespace: "shop" }, spec: { template } },
  Job: { apiVersion: "batch/v1", kind: "Job", metadata: { name: "j", namespace: "shop" }, spec: { template } },
  CronJob: { apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "c", namespace: "shop" }, spec: { schedule: "@daily", jobTemplate: { spec: { template } } } },
};
const templatePath: Record<string, string[]> = {
  Pod: [],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

function memoryIo(files: Record<string, string>, stdin = ""): InjectIo & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return {
    readStdin: () => Promise.resolve(stdin),
    readFile: (path) => (path in files ? Promise.resolve(files[path] ?? "") : Promise.reject(new Error(`ENOENT: ${path}`))),
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    stdout: () => out,
    stderr: () => err,
  };
}

async function inject(text: string, flags: string[] = clusterFlags): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo({ "in.yaml": text });
  const code = await runInject(parseInjectConfig(["-f", "in.yaml", ...flags]), io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function getIn(value: unknown, path: readonly string[]): unknown {
  let at = value;
  for (const key of path) at = typeof at === "object" && at !== null ? (at as Record<string, unknown>)[key] : undefined;
  return at;
}

/** What the webhook makes of a pod with this template's metadata and spec. */
function webhookPod(t: unknown): unknown {
  const { review } = makeTestReviewer(testFacts());
  const pod = { apiVersion: "v1", kind: "Pod", ...(t as object) };
  return applyOps(pod, patchOf(review(podReview(pod, "shop"))));
}

describe("lameduck inject", () => {
  it.each(Object.keys(workloads))("injects a %s's pod template exactly as the webhook injects its pod", async (kind) => {
    const { code, out, err } = await inject(YAML.stringify(workloads[kind]));
    expect(code).toBe(0);
    expect(err).toMatch(/^lameduck inject: in\.yaml: document 1 \(\w+ \w+\): injected: wait via [^\n]*\nlameduck inject: 1 document: 1 injected\n$/);
    const doc: unknown = YAML.parse(out);
    const path = templatePath[kind] ?? ["spec", "template"];
    const injected = getIn(doc, path);
    const expected = webhookPod(getIn(workloads[kind], path));
    expect(getIn(injected, ["spec"])).toEqual(getIn(expected, ["spec"]));
    expect(getIn(injected, ["metadata", "annotations"])).toEqual({ "lameduck.dev/injected": "v1 wait" });
  });

  it("handles List kinds and multi-document input, passing other objects through unchanged", async () => {
    const service = { apiVersion: "v1", kind: "Service", metadata: { name: "web" }, spec: { ports: [{ port: 80 }] } };
    const list = { apiVersion: "v1", kind: "List", items: [workloads["Deployment"], service] };
    const { code, out } = await inject(`${YAML.stringify(list)}---\n${YAML.stringify(service)}`);
    expect(code).toBe(0);
    const docs = YAML.parseAllDocuments(out).map((d) => d.toJS() as unknown);
    expect(docs).toHaveLength(2);
    expect(getIn(docs[0], ["items", "0", "spec", "template", "metadata", "annotations"])).toEqual({ "lameduck.dev/injected": "v1 wait" });
    expect(getIn(docs[0], ["items", "1"])).toEqual(service);
    expect(docs[1]).toEqual(service);
  });

  it("keeps comments and key order", async () => {
    const text = [
      "# the web tier",
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata:",
      "  name: web # stable name",
      "spec:",
      "  template:",
      "    spec:",
      "      # the only container",
      "      containers:",
      "        - name: web",
      "          image: nginx",
      "",
    ].join("\n");
    const { out } = await inject(text);
    expect(out).toContain("# the web tier");
    expect(out).toContain("name: web # stable name");
    expect(out).toContain("# the only container");
    expect(out.indexOf("apiVersion")).toBeLessThan(out.indexOf("kind"));
  });

  it("writes JSON input back as YAML", async () => {
    const { code, out } = await inject(JSON.stringify(workloads["Job"]));
    expect(code).toBe(0);
    expect(out.trimStart().startsWith("{")).toBe(false);
    expect(getIn(YAML.parse(out), ["spec", "template", "spec", "terminationGracePeriodSeconds"])).toBe(60);
  });

  it("changes nothing on a second run", async () => {
    const first = await inject(YAML.stringify(workloads["Deployment"]));
    const second = await inject(first.out);
    expect(second.out).toBe(first.out);
  });

  it("warns on stderr when the cluster facts are missing, and uses the native sleep", async () => {
    const { code, out, err } = await inject(YAML.stringify(workloads["Deployment"]), []);
    expect(code).toBe(0);
    expect(err).toContain("without --oracle and --hook-configmap");
    expect(getIn(YAML.parse(out), ["spec", "template", "spec", "containers", "0", "lifecycle", "preStop"])).toEqual({ sleep: { seconds: 15 } });
  });

  it("fails with exit 2, the document and field named, and nothing on stdout, for a bad template", async () => {
    const bad = { ...(workloads["Deployment"] as object), spec: { template: { spec: { containers: "web" } } } };
    const { code, out, err } = await inject(`${YAML.stringify(workloads["Pod"])}---\n${YAML.stringify(bad)}`);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toContain("in.yaml: document 2 (Deployment d): spec.template.spec.containers is not a list");
  });

  it("fails with exit 2 on YAML it cannot parse, and on a workload without a template", async () => {
    const broken = await inject("kind: Pod\nmetadata: [unclosed\n");
    expect(broken.code).toBe(2);
    expect(broken.out).toBe("");
    expect(broken.err).toContain("document 1");
    const noTemplate = await inject(YAML.stringify({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: {} }));
    expect(noTemplate.code).toBe(2);
    expect(noTemplate.err).toContain("spec.template is missing");
  });

  it("reads stdin through the real command line", async () => {
    const child = spawn(process.execPath, [join(root, "injector", "main.ts"), "inject", "-f", "-", ...clusterFlags], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.stdin.end(YAML.stringify(workloads["StatefulSet"]));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(err).toMatch(/^lameduck inject: <stdin>: document 1 \(StatefulSet s\): injected: wait via /);
    expect(code).toBe(0);
    expect(getIn(YAML.parse(out), ["spec", "template", "metadata", "annotations"])).toEqual({ "lameduck.dev/injected": "v1 wait" });
  });

  it("names a bad flag", async () => {
    const child = spawn(process.execPath, [join(root, "injector", "main.ts"), "inject", "-f", "-", "--arch=sparc"], { stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.stdin.end("");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(2);
    expect(err).toContain("--arch");
  });
});
