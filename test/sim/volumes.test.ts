import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hookOptions, materialiseVolumes, rewriteCommand, type VolumeLike } from "./volumes.ts";

const volume: VolumeLike = {
  name: "lameduck",
  projected: {
    sources: [
      { configMap: { name: "lameduck-hook-abc", optional: true, items: [{ key: "hook-amd64", path: "hook", mode: 0o555 }] } },
      {
        downwardAPI: {
          items: [
            { path: "pod/uid", fieldRef: { fieldPath: "metadata.uid" } },
            { path: "pod/name", fieldRef: { fieldPath: "metadata.name" } },
            { path: "pod/namespace", fieldRef: { fieldPath: "metadata.namespace" } },
          ],
        },
      },
    ],
  },
};
const meta = { uid: "1234-abcd", name: "web-1", namespace: "shop" };
const mounts = [{ name: "lameduck", mountPath: "/.lameduck" }];
const dirs: string[] = [];

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function podDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "sim-volumes-"));
  dirs.push(d);
  return d;
}

describe("the simulated kubelet's volumes", () => {
  it("writes the hook from the ConfigMap's binary key with its mode, and the pod's identity files", async () => {
    const dir = await podDir();
    const binary = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]);
    const mounted = await materialiseVolumes(dir, meta, [volume], mounts, () => Promise.resolve(new Map([["hook-amd64", binary]])), () => undefined);
    const volDir = mounted[0]?.dir ?? "";
    expect(await readFile(join(volDir, "hook"))).toEqual(binary);
    expect((await stat(join(volDir, "hook"))).mode & 0o777).toBe(0o555);
    expect(await readFile(join(volDir, "pod/uid"), "utf8")).toBe("1234-abcd");
    expect(await readFile(join(volDir, "pod/namespace"), "utf8")).toBe("shop");
  });

  it("starts the pod without the hook when the optional ConfigMap is missing, and says so", async () => {
    const warnings: string[] = [];
    const mounted = await materialiseVolumes(await podDir(), meta, [volume], mounts, () => Promise.resolve(undefined), (w) => warnings.push(w));
    expect(mounted).toHaveLength(1);
    expect(warnings).toEqual(["optional configMap lameduck-hook-abc not found: volume lameduck has no files from it"]);
  });

  it("rewrites the command's mount path to the pod's directory and adds this machine's hook options", () => {
    const mounted = [{ mountPath: "/.lameduck", dir: "/tmp/pod/volumes/lameduck" }];
    const command = rewriteCommand(["/.lameduck/hook", "wait", "--oracle=10.0.0.1:8080", "--max=30s"], mounted);
    expect(command[0]).toBe("/tmp/pod/volumes/lameduck/hook");
    expect(hookOptions(command, "/tmp/pod/volumes/lameduck", "/tmp/pod/hook.log").slice(4)).toEqual([
      "--podinfo=/tmp/pod/volumes/lameduck",
      "--proc=/proc",
      "--log=/tmp/pod/hook.log",
    ]);
    expect(hookOptions(["/x/hook", "sleep", "5s", "--log=/dev/null"], "/x", "/y")).toEqual(["/x/hook", "sleep", "5s", "--log=/dev/null"]);
  });
});

describe("the simulated kubelet's image volumes", () => {
  const imageVolumes: VolumeLike[] = [
    { name: "lameduck", image: { reference: "registry.sim/lameduck-hook:1", pullPolicy: "IfNotPresent" } },
    { name: "lameduck-podinfo", downwardAPI: { items: [{ path: "pod/uid", fieldRef: { fieldPath: "metadata.uid" } }] } },
  ];
  const imageMounts = [{ name: "lameduck", mountPath: "/.lameduck" }, { name: "lameduck-podinfo", mountPath: "/.lameduck-podinfo" }];

  it("mounts the image's root as pulled for the node and writes the downwardAPI volume, and --podinfo follows its mount", async () => {
    const dir = await podDir();
    const mounted = await materialiseVolumes(dir, meta, imageVolumes, imageMounts, () => Promise.resolve(undefined), () => undefined, (ref) => (ref === "registry.sim/lameduck-hook:1" ? "/images/hook/amd64" : undefined));
    expect(mounted[0]).toEqual({ mountPath: "/.lameduck", dir: "/images/hook/amd64" });
    expect(await readFile(join(mounted[1]?.dir ?? "", "pod/uid"), "utf8")).toBe("1234-abcd");
    const command = rewriteCommand(["/.lameduck/hook", "wait", "--oracle=10.0.0.1:8080", "--podinfo=/.lameduck-podinfo", "--note=/.lameduck-other"], mounted);
    expect(command).toEqual(["/images/hook/amd64/hook", "wait", "--oracle=10.0.0.1:8080", `--podinfo=${mounted[1]?.dir ?? ""}`, "--note=/.lameduck-other"]);
    expect(hookOptions(command, "/images/hook/amd64", "/tmp/pod/hook.log").filter((a) => a.startsWith("--podinfo="))).toHaveLength(1);
  });

  it("fails the pod's start for an image the node cannot pull", async () => {
    await expect(materialiseVolumes(await podDir(), meta, imageVolumes, imageMounts, () => Promise.resolve(undefined), () => undefined)).rejects.toThrow("image volume lameduck: cannot pull registry.sim/lameduck-hook:1");
  });
});
