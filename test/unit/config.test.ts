import { describe, expect, it } from "vitest";
import { ConfigError, parseRunConfig } from "../../injector/config.ts";
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
    expect(config.defaults).toEqual({ mode: "wait", maxMs: 30_000, settleMs: 2000, quietMs: 2000, fallbackMs: 10_000, sleepMs: 15_000 });
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
