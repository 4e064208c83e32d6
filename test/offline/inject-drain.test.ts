// `lameduck inject` takes the drain phase from the same flag and annotations as the webhook, through
// the shared mutation code.
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { ConfigError, parseInjectConfig } from "../../injector/config.ts";
import { runInject } from "../../injector/offline/command.ts";

const clusterFlags = ["--oracle=10.96.40.7:8080", "--hook-configmap=lameduck-hook-3f2a9c1e", "--arch=amd64"];

function deployment(annotations: Record<string, string> = {}, hostNetwork = false): string {
  const spec = { containers: [{ name: "app", image: "registry.example/app:1" }], ...(hostNetwork ? { hostNetwork } : {}) };
  return YAML.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "chat", namespace: "shop" },
    spec: { selector: { matchLabels: { app: "chat" } }, template: { metadata: { labels: { app: "chat" }, annotations }, spec } },
  });
}

/** The injected template's preStop command and the warnings on stderr. */
async function inject(text: string, flags: string[]): Promise<{ command: unknown; err: string }> {
  let out = "";
  let err = "";
  const code = await runInject(parseInjectConfig(["-f", "in.yaml", ...clusterFlags, ...flags]), {
    readStdin: () => Promise.resolve(""),
    readFile: () => Promise.resolve(text),
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  expect(code).toBe(0);
  const doc = YAML.parse(out) as { spec: { template: { spec: { containers: { lifecycle: { preStop: { exec: { command: unknown } } } }[] } } } };
  return { command: doc.spec.template.spec.containers[0]?.lifecycle.preStop.exec.command, err };
}

describe("lameduck inject and the drain phase", () => {
  it("adds the bare --drain to every wait under --drain=true", async () => {
    const { command, err } = await inject(deployment(), ["--drain=true"]);
    expect(command).toContain("--drain");
    // Only the per-document summary: no warning.
    expect(err).toBe(
      "lameduck inject: in.yaml: document 1 (Deployment chat): injected: wait with the drain phase via hook-amd64 (amd64, the cluster's only architecture)\n" +
        "lameduck inject: 1 document: 1 injected\n",
    );
  });

  it("adds --drain to a template annotated lameduck.dev/drain=true, and not without it", async () => {
    expect((await inject(deployment({ "lameduck.dev/drain": "true" }), [])).command).toContain("--drain");
    expect((await inject(deployment(), [])).command).not.toContain("--drain");
  });

  it("lets a template opt out of the cluster's --drain=true", async () => {
    expect((await inject(deployment({ "lameduck.dev/drain": "false" }), ["--drain=true"])).command).not.toContain("--drain");
  });

  it("writes no --drain for a hostNetwork template", async () => {
    expect((await inject(deployment({ "lameduck.dev/drain": "true" }, true), [])).command).not.toContain("--drain");
  });

  it("warns about a value that is neither true nor false and uses the flag's", async () => {
    const { command, err } = await inject(deployment({ "lameduck.dev/drain": "on" }), []);
    expect(command).not.toContain("--drain");
    expect(err).toContain('lameduck.dev/drain="on" on the pod is invalid; using false');
  });

  it("refuses a --drain flag that is neither true nor false, naming it", () => {
    expect(() => parseInjectConfig(["-f", "x.yaml", "--drain=yes"])).toThrow(ConfigError);
    expect(() => parseInjectConfig(["-f", "x.yaml", "--drain=yes"])).toThrow(/--drain/);
  });
});
