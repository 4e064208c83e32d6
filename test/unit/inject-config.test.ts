import { describe, expect, it } from "vitest";
import { ConfigError, parseInjectConfig, parseRunConfig } from "../../injector/config.ts";

describe("lameduck inject configuration", () => {
  it("takes the cluster from flags and the policy defaults from run's", () => {
    const config = parseInjectConfig(["-f", "a.yaml", "-f", "-", "--oracle=10.0.0.1:8080", "--arch=mixed", "--native-sleep=false", "--hook-configmap=lameduck-hook-3f2a9c1e"]);
    expect(config.files).toEqual(["a.yaml", "-"]);
    expect(config).toMatchObject({ oracleAddress: "10.0.0.1:8080", arch: "mixed", nativeSleep: false, hookHash: "3f2a9c1e", namespace: "default" });
    expect(config.defaults).toEqual(parseRunConfig([], {}, "").defaults);
    expect(config.excludedNamespaces).toEqual(["kube-system", "kube-node-lease"]);
  });
  it.each([
    [[], "-f"],
    [["-f", "x", "--hook-configmap=my-hooks"], "--hook-configmap"],
    [["-f", "x", "--arch=386"], "--arch"],
    [["-f", "x", "--native-sleep=yes"], "--native-sleep"],
    [["-f", "x", "--oracle=nowhere"], "--oracle"],
    [["-f", "x", "--max=soon"], "--max"],
  ])("names the bad flag in %j", (args, flag) => {
    expect(() => parseInjectConfig(args)).toThrow(ConfigError);
    expect(() => parseInjectConfig(args)).toThrow(flag);
  });
});

describe("the webhook Service flag", () => {
  it("defaults to lameduck-webhook", () => {
    expect(parseRunConfig([], {}, "").webhookService).toBe("lameduck-webhook");
    expect(parseRunConfig(["--webhook-service=hooks"], {}, "").webhookService).toBe("hooks");
  });
});
