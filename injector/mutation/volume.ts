// The hook volume: its exact shape (DESIGN.md "The injected pod"; with --hook-source=image an image
// volume and a downwardAPI volume for the pod's identity), recognising one lameduck added earlier
// (reinvocation), and a name and mount path that collide with nothing the pod already has.
import { HookKey, hookConfigMapName } from "../names.ts";
import type { Container, DownwardAPIVolume, Pod, Volume, VolumeMount } from "./pod.ts";

export const defaultVolumeName = "lameduck";
export const defaultMountPath = "/.lameduck";
/** With an image volume, the pod's identity comes from a downwardAPI volume of its own (image volumes are read-only). */
export const podinfoVolumeName = "lameduck-podinfo";
export const podinfoMountPath = "/.lameduck-podinfo";
const configMapPrefix = hookConfigMapName("");
/** Bounded search for a free name: a pod with this many volumes called lameduck-N is not real. */
const maxSuffix = 100;

export interface Place {
  readonly name: string;
  readonly mountPath: string;
}

/** Where the hook binary comes from: a key of the namespace's hook ConfigMap, or the hook image. */
export type HookOrigin =
  | { readonly kind: "configmap"; readonly configMapName: string; readonly key: string }
  | { readonly kind: "image"; readonly reference: string; readonly podinfo: Place };

export interface HookVolume extends Place {
  readonly origin: HookOrigin;
  /** The volume exists already (added by an earlier admission pass); mount it, do not add it. */
  readonly exists: boolean;
}

function allContainers(pod: Pod): Container[] {
  const spec = pod.spec;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? []), ...(spec?.ephemeralContainers ?? [])];
}

const hookKeys: ReadonlySet<string> = new Set(Object.values(HookKey));

/** The pod's identity as the hook reads it (`<podinfo>/pod/uid`); name and namespace for people. */
const podInfoItems = (): NonNullable<DownwardAPIVolume["items"]> => [
  { path: "pod/uid", fieldRef: { fieldPath: "metadata.uid" } },
  { path: "pod/name", fieldRef: { fieldPath: "metadata.name" } },
  { path: "pod/namespace", fieldRef: { fieldPath: "metadata.namespace" } },
];

function isPodinfoVolume(volume: Volume): boolean {
  const items = volume.downwardAPI?.items;
  return volume.name.startsWith(podinfoVolumeName) && Array.isArray(items) && items.some((i) => i.path === "pod/uid" && i.fieldRef?.fieldPath === "metadata.uid");
}

/** Which earlier hook volumes count: the webhook's own source only, `lameduck inject`'s strip either. */
export interface Recognised {
  readonly configMap: boolean;
  /** The webhook: exactly --hook-image, nothing a pod chose. */
  readonly image: (reference: string) => boolean;
}

/**
 * The volume an earlier lameduck pass added: projected from a lameduck-hook-* ConfigMap's hook key,
 * or an image volume of a recognised image together with its podinfo volume. Only volumes a
 * container mounts count.
 */
export function findHookVolume(pod: Pod, recognised: Recognised): HookVolume | undefined {
  // Each volume's first mount path, found in one pass: looking it up per volume is quadratic.
  const mountPaths = new Map<string, string>();
  for (const c of allContainers(pod)) {
    for (const m of c.volumeMounts ?? []) if (!mountPaths.has(m.name)) mountPaths.set(m.name, m.mountPath);
  }
  const volumes = pod.spec?.volumes ?? [];
  for (const volume of volumes) {
    const mountPath = mountPaths.get(volume.name);
    if (mountPath === undefined) continue;
    const reference = volume.image?.reference;
    if (typeof reference === "string" && recognised.image(reference)) {
      const podinfo = volumes.find((v) => isPodinfoVolume(v) && mountPaths.has(v.name));
      const podinfoPath = podinfo === undefined ? undefined : mountPaths.get(podinfo.name);
      if (podinfo === undefined || podinfoPath === undefined) continue;
      return { name: volume.name, mountPath, origin: { kind: "image", reference, podinfo: { name: podinfo.name, mountPath: podinfoPath } }, exists: true };
    }
    for (const source of recognised.configMap ? (volume.projected?.sources ?? []) : []) {
      const cm = source.configMap;
      if (cm?.name?.startsWith(configMapPrefix) !== true) continue;
      const item = cm.items?.find((i) => hookKeys.has(i.key) && i.path === "hook");
      if (item === undefined) continue;
      return { name: volume.name, mountPath, origin: { kind: "configmap", configMapName: cm.name, key: item.key }, exists: true };
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

/** `lameduck` (or `base`), else `lameduck-1`, `lameduck-2`, … whichever no volume of the pod is called. */
export function freeVolumeName(pod: Pod, base = defaultVolumeName): string | undefined {
  const taken = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  for (let i = 0; i <= maxSuffix; i++) {
    const name = i === 0 ? base : `${base}-${i}`;
    if (!taken.has(name)) return name;
  }
  return undefined;
}

/** `/.lameduck` (or `base`), else `/.lameduck-1`, … whichever no container of the pod mounts anything at. */
export function freeMountPath(pod: Pod, base = defaultMountPath): string | undefined {
  const taken = new Set(allContainers(pod).flatMap((c) => (c.volumeMounts ?? []).map((m) => normalisePath(m.mountPath))));
  for (let i = 0; i <= maxSuffix; i++) {
    const path = i === 0 ? base : `${base}-${i}`;
    if (!taken.has(path)) return path;
  }
  return undefined;
}

/** The projected volume exactly as DESIGN.md shows it. */
function configMapVolume(name: string, configMapName: string, key: string): Volume {
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
          downwardAPI: { items: podInfoItems() },
        },
      ],
    },
  };
}

/** The volumes a new hook volume adds to the pod: one projected volume, or the image and its podinfo. */
export function hookVolumes(volume: HookVolume): Volume[] {
  const origin = volume.origin;
  if (origin.kind === "configmap") return [configMapVolume(volume.name, origin.configMapName, origin.key)];
  return [
    // IfNotPresent: the reference is pinned (config.ts asks for a tag or digest), so a node pulls it
    // once, not for every pod it starts.
    { name: volume.name, image: { reference: origin.reference, pullPolicy: "IfNotPresent" } },
    { name: origin.podinfo.name, downwardAPI: { items: podInfoItems() } },
  ];
}

/** What each target container mounts. */
export function hookMounts(volume: HookVolume): VolumeMount[] {
  const mounts = [{ name: volume.name, mountPath: volume.mountPath, readOnly: true }];
  if (volume.origin.kind === "image") mounts.push({ name: volume.origin.podinfo.name, mountPath: volume.origin.podinfo.mountPath, readOnly: true });
  return mounts;
}
