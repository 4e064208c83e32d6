// Every name a user can see on a Kubernetes object, in one place, as in DESIGN.md.
export const prefix = "lameduck.dev/";

export const Annotation = {
  /** Marker written by the webhook, e.g. "v1 wait"; makes injection idempotent. */
  injected: `${prefix}injected`,
  inject: `${prefix}inject`,
  mode: `${prefix}mode`,
  max: `${prefix}max`,
  settle: `${prefix}settle`,
  quiet: `${prefix}quiet`,
  sleep: `${prefix}sleep`,
  drain: `${prefix}drain`,
} as const;

export const Label = {
  /** On pods: the hook version (content hash) the pod mounts. On ConfigMaps: the version they hold. */
  hook: `${prefix}hook`,
  /** On namespaces: "true" opts in (opt-in selection), "false" opts out. */
  inject: `${prefix}inject`,
  managedBy: "app.kubernetes.io/managed-by",
} as const;

export const managedByValue = "lameduck";

/** ConfigMap holding the hook binaries of one version in a namespace. */
export function hookConfigMapName(hash: string): string {
  return `lameduck-hook-${hash}`;
}

export const HookKey = { amd64: "hook-amd64", arm64: "hook-arm64" } as const;
export type Arch = keyof typeof HookKey;
