// The Dockerfile's `hook` stage (the image for image volumes) cannot be built here (no Docker
// engine), so this checks what it would contain: for each architecture BuildKit builds it for, the
// hook the build stage made for that architecture, alone, at /hook, executable; and it is not the
// default target. Which files the build makes, and that they are static hooks of the right
// architecture, test/ops/image-layout.test.ts checks through the runtime stage's COPY lines.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDockerfile } from "./dockerfile.ts";

const text = readFileSync(join(import.meta.dirname, "..", "..", "Dockerfile"), "utf8");
const stages = parseDockerfile(text);
const hook = stages.find((s) => s.name === "hook");
const runtime = stages.at(-1);

describe("the hook image stage", () => {
  it("is FROM scratch, and not the stage a plain docker build builds", () => {
    expect(hook?.image).toBe("scratch");
    expect(runtime?.name).not.toBe("hook");
  });

  it("copies one file per architecture from the build stage to /hook, the hook the controller image carries", () => {
    expect(hook?.copies).toHaveLength(1);
    const [copy] = hook?.copies ?? [];
    expect(copy?.from).toBe("build");
    expect(copy?.destination).toBe("/hook");
    const runtimeSources = (runtime?.copies ?? []).flatMap((c) => c.sources);
    for (const arch of ["amd64", "arm64"]) {
      const sources = (copy?.sources ?? []).map((s) => s.replaceAll("${TARGETARCH}", arch));
      expect(sources).toHaveLength(1);
      expect(runtimeSources).toContain(sources[0]);
    }
  });

  it("declares TARGETARCH and makes the hook executable", () => {
    const stageText = text.slice(text.indexOf("FROM scratch AS hook"), text.indexOf("FROM", text.indexOf("FROM scratch AS hook") + 4));
    expect(stageText).toMatch(/^ARG TARGETARCH$/m);
    expect(stageText).toMatch(/^COPY --from=build --chmod=0555 \S+ \/hook$/m);
  });
});
