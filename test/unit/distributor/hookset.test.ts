import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { hookHash, loadHookSet, makeHookSet } from "../../../injector/distributor/hookset.ts";
import { configMapIntact, desiredConfigMap } from "../../../injector/distributor/reconcile.ts";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("the hook version hash", () => {
  it("is 8 hex digits, stable, and follows the documented framing", () => {
    const hash = hookHash(bytes("amd"), bytes("arm"));
    expect(hash).toMatch(/^[0-9a-f]{8}$/);
    expect(hookHash(bytes("amd"), bytes("arm"))).toBe(hash);
    // sha256("hook-amd64\0" "3" "\0" "amd" "hook-arm64\0" "3" "\0" "arm"), first 8 hex digits.
    expect(hash).toBe("50d65d40"); // printf 'hook-amd64\0003\000amdhook-arm64\0003\000arm' | sha256sum
  });
  it("changes with either binary and cannot be fooled by moving bytes between them", () => {
    const base = hookHash(bytes("ab"), bytes("c"));
    expect(hookHash(bytes("a"), bytes("bc"))).not.toBe(base);
    expect(hookHash(bytes("ab"), bytes("d"))).not.toBe(base);
    expect(hookHash(bytes("c"), bytes("ab"))).not.toBe(base);
  });
  it("names the ConfigMap after the hash and loads the binaries from the hook directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lameduck-hooks-"));
    writeFileSync(join(dir, "hook-amd64"), "amd");
    writeFileSync(join(dir, "hook-arm64"), "arm");
    const set = await loadHookSet(dir);
    expect(set.configMapName).toBe(`lameduck-hook-${set.hash}`);
    expect(set.binaryData).toEqual({ "hook-amd64": Buffer.from("amd").toString("base64"), "hook-arm64": Buffer.from("arm").toString("base64") });
  });
  it("refuses to start without both binaries, naming the missing file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lameduck-hooks-"));
    writeFileSync(join(dir, "hook-amd64"), "amd");
    await expect(loadHookSet(dir)).rejects.toThrow(join(dir, "hook-arm64"));
  });
});

describe("the desired ConfigMap", () => {
  const hooks = makeHookSet(bytes("amd"), bytes("arm"));
  it("is immutable, labelled, and holds both binaries", () => {
    const cm = desiredConfigMap(hooks, "shop");
    expect(cm.immutable).toBe(true);
    expect(cm.metadata?.labels).toEqual({ "app.kubernetes.io/managed-by": "lameduck", "lameduck.dev/hook": hooks.hash });
    expect(configMapIntact(cm, hooks)).toBe(true);
  });
  it("counts as altered when a binary, the immutability or the version label differ, or data was added", () => {
    const intactAfter = (change: (cm: V1ConfigMap) => void): boolean => {
      const cm = structuredClone(desiredConfigMap(hooks, "shop"));
      change(cm);
      return configMapIntact(cm, hooks);
    };
    expect(intactAfter(() => undefined)).toBe(true);
    expect(intactAfter((cm) => (cm.binaryData = { ...cm.binaryData, "hook-arm64": "AAAA" }))).toBe(false);
    expect(intactAfter((cm) => (cm.immutable = false))).toBe(false);
    expect(intactAfter((cm) => (cm.data = { x: "y" }))).toBe(false);
    expect(intactAfter((cm) => {
      if (cm.metadata?.labels !== undefined) cm.metadata.labels = { "app.kubernetes.io/managed-by": "lameduck" };
    })).toBe(false);
  });
});
