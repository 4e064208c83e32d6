// The operator documentation keeps up with the code: every flag, annotation, label, metric, skip reason
// and log line the code has is in docs/operations.md, and the README's commands name things that exist.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { documentedTable, markdownTable } from "../../build/sim-docs.ts";
import { chartFigures } from "../sim/chart.ts";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runUsage } from "../../injector/config.ts";
import { SkipReason } from "../../injector/mutation/policy.ts";
import { Annotation, Label } from "../../injector/names.ts";
import { isOpsCommand } from "../../injector/ops/commands.ts";
import { repoRoot } from "./render.ts";

const operations = readFileSync(join(repoRoot, "docs", "operations.md"), "utf8");
const readme = readFileSync(join(repoRoot, "README.md"), "utf8");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [readFileSync(path, "utf8")] : [];
  });
}
const injector = sources(join(repoRoot, "injector"));

/** Messages of info, warn and error log calls: the last string literal of each call's arguments. */
function logMessages(): string[] {
  const found = new Set<string>();
  for (const text of injector) {
    for (const call of text.matchAll(/\b(?:log|logger)\.(?:info|warn|error)\(([\s\S]*?)\);/g)) {
      const message = /(["`])([^"`$]+)\1\s*$/.exec((call[1] ?? "").trim())?.[2];
      if (message !== undefined) found.add(message);
    }
  }
  return [...found].sort();
}

describe("docs/operations.md", () => {
  it("documents every `lameduck run` flag", () => {
    const flags = [...runUsage.matchAll(/^\s+(--[a-z-]+)/gm)].map((m) => m[1] ?? "");
    expect(flags.length).toBeGreaterThan(20);
    expect(flags.filter((f) => !operations.includes(`\`${f}`))).toEqual([]);
  });

  it("documents every annotation and label", () => {
    const names = [...Object.values(Annotation), ...Object.values(Label)];
    expect(names.filter((n) => !operations.includes(`\`${n}`))).toEqual([]);
  });

  it("documents every metric the controller registers", () => {
    const metrics = [...new Set(injector.flatMap((t) => [...t.matchAll(/name: "(lameduck_[a-z_]+)"/g)].map((m) => m[1] ?? "")))].sort();
    expect(metrics.length).toBeGreaterThan(10);
    expect(metrics.filter((m) => !operations.includes(`\`${m}\``))).toEqual([]);
  });

  it("documents every reason a pod is not injected", () => {
    expect(Object.values(SkipReason).filter((r) => !operations.includes(`\`${r}\``))).toEqual([]);
  });

  it("documents every info, warning and error log line", () => {
    const messages = logMessages();
    expect(messages.length).toBeGreaterThan(15);
    expect(messages.filter((m) => !operations.includes(`\`${m}\``))).toEqual([]);
  });
});

describe("the README's commands", () => {
  it("apply kustomizations that exist", () => {
    const dirs = [...readme.matchAll(/kubectl (?:apply|delete) -k ([\w./-]+)/g)].map((m) => m[1] ?? "");
    expect(dirs).toContain("manifests/");
    expect(dirs).toContain("manifests/overlays/opt-in");
    for (const dir of dirs) expect(existsSync(join(repoRoot, dir, "kustomization.yaml")), dir).toBe(true);
  });

  it("run lameduck commands that exist", () => {
    const commands = [...(readme + operations).matchAll(/(?:lameduck\.mjs|lameduck) (check|status|uninstall|run|inject|version)\b/g)].map((m) => m[1] ?? "");
    expect(commands).toContain("check");
    expect(commands).toContain("uninstall");
    for (const c of commands) expect(isOpsCommand(c) || ["run", "inject", "version"].includes(c), c).toBe(true);
  });
});

describe("docs/simulation.md", () => {
  it("shows the table of the run that drew docs/rollout.svg", () => {
    const figures = chartFigures(readFileSync(join(repoRoot, "docs", "rollout.svg"), "utf8"));
    expect(figures, "docs/rollout.svg carries its run's figures").toBeDefined();
    const documented = documentedTable(readFileSync(join(repoRoot, "docs", "simulation.md"), "utf8"));
    expect(documented, "run: node build/sim-docs.ts").toBe(markdownTable(figures ?? []));
  });

  it("has every scenario of the chart in the table, with the failed count the chart's panel names", () => {
    const svg = readFileSync(join(repoRoot, "docs", "rollout.svg"), "utf8");
    const panels = [...svg.matchAll(/class="label">[^<]* — (\d+) failed<\/text>/g)].map((m) => m[1]);
    expect(panels).toEqual((chartFigures(svg) ?? []).map((f) => f["failed"]));
    expect(panels.length).toBeGreaterThanOrEqual(8);
  });
});

describe("the README", () => {
  it("speaks to users, not to the tracker", () => {
    expect(readme).not.toMatch(/\bissues?\b/i);
    expect(readFileSync(join(repoRoot, "docs", "simulation.md"), "utf8")).not.toMatch(/\bissues?\b/i);
  });

  it("starts with the two commands, setup + demo and the tests", () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(firstBlock).toContain("bash build/setup.sh && npm run demo");
    expect(firstBlock).toContain("npm test");
  });
});
