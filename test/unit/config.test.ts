import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { ConfigError, parseRunConfig, runUsage } from "../../injector/config.ts";
import { defaultOf, runFlags, type Flag } from "../../injector/flags.ts";
import { formatDuration, parseDuration } from "../../injector/duration.ts";

describe("durations", () => {
  it("accepts the forms the hook accepts", () => {
    expect(parseDuration("15s")).toEqual({ ok: true, ms: 15_000 });
    expect(parseDuration("1500ms")).toEqual({ ok: true, ms: 1500 });
    expect(parseDuration("2m")).toEqual({ ok: true, ms: 120_000 });
    expect(parseDuration("7")).toEqual({ ok: true, ms: 7000 });
  });
  it("rejects negative, fractional and unit-less garbage with the value named", () => {
    for (const bad of ["-1s", "1.5s", "s", "", "10x", "99999999h"]) {
      const parsed = parseDuration(bad);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toContain(`"${bad}"`);
    }
  });
  it("formats back to the shortest exact form", () => {
    expect(formatDuration(30_000)).toBe("30s");
    expect(formatDuration(1500)).toBe("1500ms");
  });
});

describe("run configuration", () => {
  it("has the design's defaults", () => {
    const config = parseRunConfig([], {}, "/opt/lameduck");
    expect(config.defaults).toEqual({ mode: "wait", maxMs: 30_000, settleMs: 2000, quietMs: 2000, fallbackMs: 10_000, sleepMs: 15_000, drain: false });
    expect(config.namespace).toBe("lameduck-system");
    expect(config.excludedNamespaces).toEqual(["lameduck-system", "kube-system", "kube-node-lease"]);
    expect(config.hookDir).toBe("/opt/lameduck");
    expect(Object.isFrozen(config)).toBe(true);
  });
  it("keeps serving 5 s after SIGTERM by default, and not at all with --shutdown-delay=0", () => {
    expect(parseRunConfig([], {}, "").shutdownDelayMs).toBe(5_000);
    expect(parseRunConfig(["--shutdown-delay=0"], {}, "").shutdownDelayMs).toBe(0);
    expect(parseRunConfig(["--shutdown-delay=1500ms"], {}, "").shutdownDelayMs).toBe(1_500);
  });
  it("takes the namespace from POD_NAMESPACE unless a flag names one", () => {
    expect(parseRunConfig([], { POD_NAMESPACE: "ops" }, "").namespace).toBe("ops");
    expect(parseRunConfig(["--namespace=x"], { POD_NAMESPACE: "ops" }, "").namespace).toBe("x");
  });
  it.each([
    [["--max=forever"], "--max"],
    [["--mode=nap"], "--mode"],
    [["--webhook-port=70000"], "--webhook-port"],
    [["--oracle-address=10.0.0.1"], "--oracle-address"],
    [["--tls-cert-file=/c"], "--tls-cert-file"],
    [["--max-waits=0"], "--max-waits"],
    [["--shutdown-delay=soon"], "--shutdown-delay"],
    [["--shutdown-delay=11m"], "--shutdown-delay"],
    [["--bogus"], "bogus"],
  ])("names the bad flag in %j", (args, flag) => {
    expect(() => parseRunConfig(args, {}, "")).toThrow(ConfigError);
    expect(() => parseRunConfig(args, {}, "")).toThrow(flag);
  });
});

describe("the one table of flag defaults", () => {
  const root = join(import.meta.dirname, "..", "..");
  const operations = readFileSync(join(root, "docs", "operations.md"), "utf8");
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const byName = new Map<string, Flag>(runFlags.map((f) => [f.name, f]));

  /** Markdown table rows as cells, backticks and escapes removed. */
  function rows(markdown: string): string[][] {
    return markdown
      .split("\n")
      .filter((line) => line.startsWith("| "))
      .map((line) => line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/`/g, "").replace(/\\\|/g, "|")));
  }

  /** The flags a cell names: `--max=DURATION`, `--max`, `--exclude-namespaces=`. */
  function flagsIn(cell: string): string[] {
    return [...cell.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1] ?? "").filter((name) => byName.has(name));
  }

  it("is what the usage text states", () => {
    for (const flag of runFlags) {
      const line = runUsage.split("\n").findIndex((l) => l.startsWith(`  --${flag.name}=`));
      expect(line, flag.name).toBeGreaterThanOrEqual(0);
      const stated = defaultOf(flag);
      // The help may wrap: the default closes the flag's last line.
      const entry = runUsage.split("\n").slice(line).join("\n").split(/\n {2}-/)[0]?.replace(/\s+/g, " ");
      if (stated !== undefined) expect(entry, flag.name).toContain(`(default ${stated})`);
      else expect(entry, flag.name).not.toContain("(default");
    }
  });

  it("is what the Deployment passes: its args restate the defaults", () => {
    const deployment = YAML.parse(readFileSync(join(root, "manifests", "base", "deployment.yaml"), "utf8")) as { spec: { template: { spec: { containers: { args?: string[] }[] } } } };
    const args = deployment.spec.template.spec.containers[0]?.args ?? [];
    expect(args.length).toBeGreaterThan(5);
    for (const arg of args) {
      const match = /^--([a-z-]+)=(.*)$/.exec(arg);
      expect(match, arg).not.toBeNull();
      const flag = byName.get(match?.[1] ?? "");
      expect(flag, arg).toBeDefined();
      expect(match?.[2], arg).toBe(flag?.default);
    }
  });

  it("is what docs/operations.md states, in its flag reference and its knobs", () => {
    const reference = rows(operations).filter((cells) => (cells[0] ?? "").startsWith("--"));
    for (const flag of runFlags) {
      const row = reference.find((cells) => flagsIn(cells[0] ?? "").includes(flag.name));
      expect(row, `--${flag.name} in the flag reference`).toBeDefined();
      expect(row?.[1], flag.name).toBe(defaultOf(flag) ?? "");
    }
    const knobs = rows(operations).filter((cells) => cells.length === 3 && !(cells[0] ?? "").startsWith("--") && flagsIn(cells[1] ?? "").length > 0);
    expect(knobs.length).toBeGreaterThan(5);
    for (const cells of knobs) {
      const flag = byName.get(flagsIn(cells[1] ?? "")[0] ?? "");
      expect(cells[2], cells[0]).toBe(flag === undefined ? undefined : defaultOf(flag));
    }
  });

  it("is what the README's flag table states", () => {
    const table = rows(readme).filter((cells) => /^--[a-z][a-z-]*$/.test(cells[0] ?? ""));
    expect(table.length).toBeGreaterThan(5);
    for (const cells of table) {
      const flag = byName.get((cells[0] ?? "").slice(2));
      expect(flag, cells[0]).toBeDefined();
      expect(cells[1], cells[0]).toBe(flag === undefined ? undefined : defaultOf(flag));
    }
  });
});
