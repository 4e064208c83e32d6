// The hook volume: its exact shape (DESIGN.md "The injected pod"), recognising one lameduck added
// earlier (reinvocation), and a name and mount path that collide with nothing the pod already has.
import { HookKey, hookConfigMapName } from "../names.ts";
import type { Container, Pod, Volume } from "./pod.ts";

export const defaultVolumeName = "lameduck";
export const defaultMountPath = "/.lameduck";
const configMapPrefix = hookConfigMapName("");
/** Bounded search for a free name: a pod with this many volumes called lameduck-N is not real. */
const maxSuffix = 100;

export interface HookVolume {
  readonly name: string;
  readonly mountPath: string;
  readonly configMapName: string;
  readonly key: string;
  /** The volume exists already (added by an earlier admission pass); mount it, do not add it. */
  readonly exists: boolean;
}

function allContainers(pod: Pod): Container[] {
  const spec = pod.spec;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? []), ...(spec?.ephemeralContainers ?? [])];
}

const hookKeys: ReadonlySet<string> = new Set(Object.values(HookKey));

/** The volume an earlier lameduck pass added: projected from a lameduck-hook-* ConfigMap's hook key. */
export function findHookVolume(pod: Pod): HookVolume | undefined {
  // Each volume's first mount path, found in one pass: looking it up per volume is quadratic.
  const mountPaths = new Map<string, string>();
  for (const c of allContainers(pod)) {
    for (const m of c.volumeMounts ?? []) if (!mountPaths.has(m.name)) mountPaths.set(m.name, m.mountPath);
  }
  for (const volume of pod.spec?.volumes ?? []) {
    for (const source of volume.projected?.sources ?? []) {
      const cm = source.configMap;
      if (cm?.name?.startsWith(configMapPrefix) !== true) continue;
      const item = cm.items?.find((i) => hookKeys.has(i.key) && i.path === "hook");
      const mountPath = mountPaths.get(volume.name);
      if (item === undefined || mountPath === undefined) continue;
      return { name: volume.name, mountPath, configMapName: cm.name, key: item.key, exists: true };
    }
  }
  return undefined;
}

/** The path without trailing slashes. A loop: /\/+$/ backtracks quadratically on a long run of slashes. */
function normalisePath(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 0x2f) end--;
  return path.slice(0, end);
}

/** `lameduck`, else `lameduck-1`, `lameduck-2`, … whichever no volume of the pod is called. */
export function freeVolumeName(pod: Pod): string | undefined {
  const taken = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  for (let i = 0; i <= maxSuffix; i++) {
    const name = i === 0 ? defaultVolumeName : `${defaultVolumeName}-${i}`;
    if (!taken.has(name)) return name;
  }
  return undefined;
}

/** `/.lameduck`, else `/.lameduck-1`, … whichever no container of the pod mounts anything at. */
export function freeMountPath(pod: Pod): string | undefined {
  const taken = new Set(allContainers(pod).flatMap((c) => (c.volumeMounts ?? []).map((m) => normalisePath(m.mountPath))));
  for (let i = 0; i <= maxSuffix; i++) {
    const path = i === 0 ? defaultMountPath : `${defaultMountPath}-${i}`;
    if (!taken.has(path)) return path;
  }
  return undefined;
}

/** The projected volume exactly as DESIGN.md shows it. */
export function hookVolume(name: string, configMapName: string, key: string): Volume {
  return {
    name,
    projected: {
      sources: [
        {
          // optional: a pod created a moment before its namespace's ConfigMap still starts; its hook
          // is then missing and the kubelet skips the wait, which is no worse than no hook.
          configMap: { name: configMapName, optional: true, items: [{ key, path: "hook", mode: 0o555 }] },
        },
        {
          // The UID, not the IP: the IP is not available in a downwardAPI volume, and EndpointSlice
          // endpoints carry targetRef.uid (which also covers dual-stack pods).
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
}
