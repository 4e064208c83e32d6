// `lameduck inject` in a GitOps repository: what it did per document on stderr, re-runs that follow
// the latest flags for what lameduck added and nothing else, and every byte it does not change kept
// as written (checked on the inject fixture corpus).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML, { isCollection, isScalar, visit } from "yaml";
import { injectUsage, parseInjectConfig } from "../../injector/config.ts";
import { runInject } from "../../injector/offline/command.ts";

const fixtures = join(import.meta.dirname, "..", "fixtures", "inject");
const cluster = ["--oracle=10.96.40.7:8080", "--hook-configmap=lameduck-hook-3f2a9c1e"];

async function inject(text: string, flags: readonly string[] = cluster): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runInject(parseInjectConfig(["-f", "in.yaml", ...flags]), {
    readStdin: () => Promise.resolve(""),
    readFile: () => Promise.resolve(text),
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { code, out, err };
}

const deployment = `# the web tier, as the repository keeps it
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}   # flow style stays
spec:
  selector: {matchLabels: {app: web}}

  template:
    metadata:
      labels:
        app: web   # two spaces before this comment
    spec:
      containers:
      - name: web
        image: "nginx:1.27"
        volumeMounts:
        - {name: cache, mountPath: /cache}
      - name: proxy
        image: envoy
        lifecycle:
          preStop:
            exec: {command: [sleep, "5"]}
      volumes:
      - {name: cache, emptyDir: {}}
`;

describe("lameduck inject's report", () => {
  it("says per document what it did or why it left it alone", async () => {
    const text = [
      "apiVersion: v1\nkind: Pod\nmetadata: {name: dns, namespace: kube-system}\nspec:\n  containers: [{name: c, image: i}]\n",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: own}\nspec:\n  containers:\n  - name: c\n    image: i\n    lifecycle: {preStop: {exec: {command: [x]}}}\n",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: win}\nspec:\n  os: {name: windows}\n  containers: [{name: c, image: i}]\n",
      "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
      "just: some yaml\n",
      "# nothing here\n",
      "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: i}]\n",
    ].join("---\n");
    const { code, out, err } = await inject(text, [...cluster, "--native-sleep=false"]);
    expect(code).toBe(0);
    expect(err.split("\n")).toEqual([
      "lameduck inject: in.yaml: document 1 (Pod dns): left alone: namespace kube-system is excluded (--exclude-namespaces)",
      "lameduck inject: in.yaml: document 2 (Pod own): left alone: every container has its own preStop, which is kept",
      "lameduck inject: in.yaml: document 3 (Pod win): left alone: a Windows pod, and the native sleep is off (--native-sleep=false)",
      "lameduck inject: in.yaml: document 4 (Service web): left alone: a Service has no pod template",
      "lameduck inject: in.yaml: document 5: left alone: not a Kubernetes object (no kind)",
      "lameduck inject: in.yaml: document 6: left alone: empty",
      expect.stringMatching(/^lameduck inject: in\.yaml: document 7 \(ReplicationController rc\): injected: wait via hook-amd64/) as string,
      "lameduck inject: 7 documents: 1 injected, 6 left alone",
      "",
    ]);
    // Only the ReplicationController changed; everything before it is the input, byte for byte.
    const untouched = text.slice(0, text.indexOf("apiVersion: v1\nkind: ReplicationController"));
    expect(out.startsWith(untouched)).toBe(true);
  });

  it("lists ReplicationControllers among the kinds in --help", () => {
    expect(injectUsage).toContain("ReplicationControllers");
  });
});

describe("lameduck inject, run again", () => {
  it("moves what it injected to the new settings, and changes nothing when they are the same", async () => {
    const first = await inject(deployment, []);
    expect(first.err).toContain("injected: native sleep 15s");
    const wait = await inject(first.out);
    expect(wait.err).toContain("re-injected: wait via hook-amd64");
    const again = await inject(wait.out);
    expect(again.out).toBe(wait.out);
    expect(again.err).toContain(": unchanged: wait via hook-amd64");

    // The same as injecting the original with these flags in one go.
    const direct = await inject(deployment);
    expect(YAML.parse(wait.out)).toEqual(YAML.parse(direct.out));
    const longer = await inject(wait.out, [...cluster, "--max=60s"]);
    const longerDirect = await inject(deployment, [...cluster, "--max=60s"]);
    expect(YAML.parse(longer.out)).toEqual(YAML.parse(longerDirect.out));
    expect(longer.out).toContain("--max=60s");
    expect(longer.out).not.toContain("--max=30s");
    // And back: the grace period returns to what the first run made of the original.
    expect(YAML.parse((await inject(longer.out, [])).out)).toEqual(YAML.parse(first.out));
  });

  it("moves between the hook ConfigMap and the hook image, both volumes of the image going with it", async () => {
    const image = ["--oracle=10.96.40.7:8080", "--hook-source=image", "--hook-image=registry.example/lameduck-hook:0.1.0"];
    const fromImage = await inject(deployment, image);
    expect(fromImage.err).toContain("injected: wait via image registry.example/lameduck-hook:0.1.0");
    expect(fromImage.err).not.toContain("--hook-configmap");
    expect(fromImage.out).toContain("--podinfo=/.lameduck-podinfo");
    expect((await inject(fromImage.out, image)).out).toBe(fromImage.out);
    // A switch rewrites the volume in place, which the text splice does not do: the document is
    // rendered again (its comments kept, once), as the direct injection would make it.
    const toConfigMap = await inject(fromImage.out);
    expect(toConfigMap.err).toContain("re-injected: wait via hook-amd64");
    expect(YAML.parse(toConfigMap.out)).toEqual(YAML.parse((await inject(deployment)).out));
    expect(toConfigMap.out.match(/# the web tier/g)).toHaveLength(1);
    const back = await inject(toConfigMap.out, image);
    expect(YAML.parse(back.out)).toEqual(YAML.parse(fromImage.out));
    expect(YAML.parse((await inject(back.out, [...image, "--namespace=kube-system"])).out)).toEqual(YAML.parse(deployment));
    expect((await inject(fromImage.out, [...image, "--namespace=kube-system"])).out).toBe(deployment);
  });

  it("takes its injection off when the new settings leave the pod alone, and keeps the user's preStop", async () => {
    const injected = (await inject(deployment)).out;
    const { out, err } = await inject(injected, [...cluster, "--namespace=kube-system"]);
    expect(err).toContain("injection removed: namespace kube-system is excluded");
    expect(out).toBe(deployment);
  });
});

/** Lines of `text` inside flow collections, or holding a scalar at one of `paths`: the only ones lameduck may rewrite. */
function rewritable(text: string): Set<number> {
  const lines = new Set<number>();
  const lineOf = (offset: number): number => text.slice(0, offset).split("\n").length - 1;
  for (const doc of YAML.parseAllDocuments(text)) {
    visit(doc, {
      Node(_, node) {
        const range = node.range;
        if (range === null || range === undefined) return;
        const value: unknown = isScalar(node) ? node.value : undefined;
        const changed = isScalar(node) && (value === null || typeof value === "number" || (typeof value === "string" && value.startsWith("v1 ")));
        if ((isCollection(node) && node.flow === true) || changed) for (let l = lineOf(range[0]); l <= lineOf(range[1]); l++) lines.add(l);
      },
    });
  }
  return lines;
}

/** A golden case's --hook-source and --hook-image flags (its first YAML document). */
function hookSourceFlags(text: string): string[] {
  const setup: unknown = YAML.parseAllDocuments(text).length > 1 ? YAML.parseAllDocuments(text)[0]?.toJS() : undefined;
  const flags = typeof setup === "object" && setup !== null && "flags" in setup && Array.isArray(setup.flags) ? setup.flags.filter((f): f is string => typeof f === "string") : [];
  return flags.filter((f) => f.startsWith("--hook-source=") || f.startsWith("--hook-image="));
}

describe("lameduck inject on the fixture corpus", () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith(".pod.yaml"));
  it.each(files)("%s: keeps every line outside the flow collections and numbers it extends, in order", async (file) => {
    const text = readFileSync(join(fixtures, file), "utf8");
    // With the hook source the case was written for: a case of a pod with the hook image, injected
    // from the ConfigMap, would switch sources (the test above).
    const image = hookSourceFlags(text);
    const { code, out } = await inject(text, image.length === 0 ? cluster : ["--oracle=10.96.40.7:8080", ...image]);
    expect(code).toBe(0);
    const keep = rewritable(text);
    const expected = text.split("\n").filter((_, i) => !keep.has(i));
    const output = out.split("\n");
    let at = 0;
    for (const line of expected) {
      const found = output.indexOf(line, at);
      expect(found, `line ${JSON.stringify(line)} kept`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  });

  it("leaves the corpus byte for byte alone where it injects nothing", async () => {
    let untouched = 0;
    for (const file of files) {
      const text = readFileSync(join(fixtures, file), "utf8");
      const { out, err } = await inject(text);
      if (/: (injected|re-injected|injection removed): /.test(err)) continue;
      expect(out, file).toBe(text);
      untouched++;
    }
    expect(untouched).toBeGreaterThan(3);
  });
});
