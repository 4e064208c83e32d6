// What the simulated kubelet does with a pod's volumes and preStop command. Projected volumes
// (configMap items with their mode, downwardAPI metadata fields) and downwardAPI volumes are written
// into a per-pod directory, as the real kubelet writes them into the container's mount; an image
// volume mounts the image's root filesystem for the node's architecture (hook-image.ts), read-only
// and shared, as a runtime mounts it. The one liberty the simulation takes: pods share this
// machine's filesystem, so a command path under a volume's mountPath (`/.lameduck/hook`, or an
// option's value such as `--podinfo=/.lameduck-podinfo`) is rewritten to that volume's directory.
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, isAbsolute } from "node:path";
import type { ImageStore } from "./hook-image.ts";

export interface KeyToPath {
  readonly key: string;
  readonly path: string;
  readonly mode?: number;
}

interface DownwardAPILike {
  readonly items?: readonly { readonly path: string; readonly fieldRef?: { readonly fieldPath: string }; readonly mode?: number }[];
}

export interface VolumeLike {
  readonly name: string;
  readonly projected?: {
    readonly sources?: readonly {
      readonly configMap?: { readonly name?: string; readonly optional?: boolean; readonly items?: readonly KeyToPath[] };
      readonly downwardAPI?: DownwardAPILike;
    }[];
  };
  readonly downwardAPI?: DownwardAPILike;
  readonly image?: { readonly reference?: string; readonly pullPolicy?: string };
}

export interface MountLike {
  readonly name: string;
  readonly mountPath: string;
}

export interface PodMeta {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
}

/** A ConfigMap's contents as the kubelet sees them: text data and decoded binaryData. */
export type ConfigMapReader = (name: string) => Promise<ReadonlyMap<string, Buffer> | undefined>;

export interface Mounted {
  readonly mountPath: string;
  readonly dir: string;
}

function fieldValue(meta: PodMeta, fieldPath: string): string | undefined {
  if (fieldPath === "metadata.uid") return meta.uid;
  if (fieldPath === "metadata.name") return meta.name;
  if (fieldPath === "metadata.namespace") return meta.namespace;
  return undefined;
}

async function put(dir: string, path: string, data: Buffer | string, mode: number | undefined): Promise<void> {
  if (isAbsolute(path) || relative(dir, join(dir, path)).startsWith("..")) throw new Error(`volume item path ${path} escapes its volume`);
  const file = join(dir, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, data);
  // The API's defaultMode for projected volumes is 0644.
  await chmod(file, mode ?? 0o644);
}

async function writeDownwardAPI(dir: string, meta: PodMeta, source: DownwardAPILike): Promise<void> {
  for (const item of source.items ?? []) {
    const value = item.fieldRef ? fieldValue(meta, item.fieldRef.fieldPath) : undefined;
    if (value === undefined) throw new Error(`downwardAPI item ${item.path}: field not simulated`);
    await put(dir, item.path, value, item.mode);
  }
}

/**
 * Writes the volumes a container mounts under podDir (projected and downwardAPI), or finds an image
 * volume's image in `images`; returns where each mount went. An image the store does not hold fails
 * the container's start, as a failed pull does (ErrImagePull).
 */
export async function materialiseVolumes(
  podDir: string,
  meta: PodMeta,
  volumes: readonly VolumeLike[],
  mounts: readonly MountLike[],
  readConfigMap: ConfigMapReader,
  warn: (message: string) => void,
  images: ImageStore = () => undefined,
): Promise<Mounted[]> {
  const mounted: Mounted[] = [];
  for (const mount of mounts) {
    const volume = volumes.find((v) => v.name === mount.name);
    if (volume?.image) {
      const reference = volume.image.reference ?? "";
      const root = images(reference);
      if (root === undefined) throw new Error(`image volume ${volume.name}: cannot pull ${reference}`);
      mounted.push({ mountPath: mount.mountPath, dir: root });
      continue;
    }
    if (volume?.downwardAPI) {
      const dir = join(podDir, "volumes", volume.name);
      await mkdir(dir, { recursive: true });
      await writeDownwardAPI(dir, meta, volume.downwardAPI);
      mounted.push({ mountPath: mount.mountPath, dir });
      continue;
    }
    if (!volume?.projected) continue;
    const dir = join(podDir, "volumes", volume.name);
    await mkdir(dir, { recursive: true });
    for (const source of volume.projected.sources ?? []) {
      if (source.configMap?.name) {
        const data = await readConfigMap(source.configMap.name);
        if (!data) {
          if (source.configMap.optional !== true) throw new Error(`configMap ${source.configMap.name} of volume ${volume.name} not found`);
          warn(`optional configMap ${source.configMap.name} not found: volume ${volume.name} has no files from it`);
        }
        for (const item of data ? (source.configMap.items ?? [...data.keys()].map((key): KeyToPath => ({ key, path: key }))) : []) {
          const value = data?.get(item.key);
          if (value === undefined) throw new Error(`configMap ${source.configMap.name} has no key ${item.key}`);
          await put(dir, item.path, value, item.mode);
        }
      }
      if (source.downwardAPI) await writeDownwardAPI(dir, meta, source.downwardAPI);
    }
    mounted.push({ mountPath: mount.mountPath, dir });
  }
  return mounted;
}

/** The preStop exec command as run on this machine: mount paths, also as an option's value, rewritten to their directories. */
export function rewriteCommand(command: readonly string[], mounted: readonly Mounted[]): string[] {
  const rewritePath = (path: string): string => {
    for (const m of mounted) {
      if (path === m.mountPath) return m.dir;
      if (path.startsWith(`${m.mountPath}/`)) return m.dir + path.slice(m.mountPath.length);
    }
    return path;
  };
  const rewrite = (arg: string): string => {
    const option = /^(--[a-z-]+=)(\/.*)$/.exec(arg);
    return option === null ? rewritePath(arg) : `${option[1] ?? ""}${rewritePath(option[2] ?? "")}`;
  };
  return command.map(rewrite);
}

/**
 * Options the real hook takes so that it reads this pod's files and logs where the simulation can
 * show it, added unless the command already has them (a pod in a real container needs none).
 */
export function hookOptions(command: readonly string[], podinfoDir: string, logFile: string): string[] {
  const has = (flag: string): boolean => command.some((a) => a === flag || a.startsWith(`${flag}=`));
  const extra: string[] = [];
  if (command[1] === "wait") {
    if (!has("--podinfo")) extra.push(`--podinfo=${podinfoDir}`);
    if (!has("--proc")) extra.push("--proc=/proc");
  }
  if (!has("--log")) extra.push(`--log=${logFile}`);
  return [...command, ...extra];
}
