import { describe, expect, it } from "vitest";
import { ConfigError, parseInjectConfig, parseRunConfig } from "../../injector/config.ts";
import { checkImageRef } from "../../injector/image-ref.ts";

const digest = `sha256:${"4f1c2b7e".repeat(8)}`;

describe("--hook-source and --hook-image", () => {
  it("default to the namespace's hook ConfigMap", () => {
    expect(parseRunConfig([], {}, "").hookSource).toEqual({ kind: "configmap" });
  });

  it("take the image for lameduck run and lameduck inject alike", () => {
    const args = ["--hook-source=image", `--hook-image=ghcr.io/lameduck-dev/lameduck-hook@${digest}`];
    expect(parseRunConfig(args, {}, "").hookSource).toEqual({ kind: "image", image: `ghcr.io/lameduck-dev/lameduck-hook@${digest}` });
    expect(parseInjectConfig(["-f", "x", ...args]).hookSource).toEqual(parseRunConfig(args, {}, "").hookSource);
  });

  it.each([
    [["--hook-source=image"], "--hook-image: required with --hook-source=image"],
    [["--hook-source=image", "--hook-image=ghcr.io/lameduck-dev/lameduck-hook"], "--hook-image: \"ghcr.io/lameduck-dev/lameduck-hook\" has no tag or digest"],
    [["--hook-source=image", "--hook-image=Registry.example/Hook:1"], "--hook-image: \"Registry.example/Hook:1\" is not an image reference"],
    [["--hook-source=image", "--hook-image=hook:1 --privileged"], "is not an image reference"],
    [["--hook-image=registry.example/hook:1"], "--hook-image: only used with --hook-source=image"],
    [["--hook-source=oci"], "--hook-source: \"oci\" is not one of configmap, image"],
  ])("name the bad flag in %j", (args, message) => {
    expect(() => parseRunConfig(args, {}, "")).toThrow(ConfigError);
    expect(() => parseRunConfig(args, {}, "")).toThrow(message);
  });

  it("leave no room for --hook-configmap in lameduck inject with the image", () => {
    expect(() => parseInjectConfig(["-f", "x", "--hook-source=image", "--hook-image=registry.example/hook:1", "--hook-configmap=lameduck-hook-3f2a9c1e"])).toThrow("--hook-configmap: not used with --hook-source=image");
  });
});

describe("image references", () => {
  it.each([
    "registry.example/hook:1",
    "hook:0.1.0",
    `hook@${digest}`,
    `ghcr.io/lameduck-dev/lameduck-hook:0.1.0@${digest}`,
    "localhost:5000/team/lameduck_hook:v1.2-rc.1",
    "[fd00::1]:5000/hook:1",
  ])("accepts %s", (ref) => {
    expect(checkImageRef(ref)).toEqual({ ok: true });
  });

  it.each([
    ["", "is not an image reference"],
    ["hook", "has no tag or digest"],
    ["hook:", "is not an image reference"],
    ["hook@sha256:abc", "is not an image reference"],
    ["-hook:1", "is not an image reference"],
    ["hook:1\n", "is not an image reference"],
    [`${"a".repeat(300)}:1`, "has a name longer than 255 characters"],
    [`${"a/".repeat(300)}a:1`, "is longer than 512 characters"],
  ])("rejects %j: %s", (ref, problem) => {
    const check = checkImageRef(ref);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.problem).toContain(problem);
  });
});
