// /version and the legacy discovery documents (/api, /apis, /api/v1, /apis/<group>/<version>),
// enough for client-node's KubernetesObjectApi and for kubectl. Aggregated discovery is not
// offered: answering plain application/json makes kubectl fall back to the legacy documents.
import type { Obj } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import { apiVersionOf, resources } from "./resources.ts";

const verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function versionInfo(gitVersion: string): Obj {
  const m = /^v(\d+)\.(\d+)/.exec(gitVersion);
  return {
    major: m?.[1] ?? "1", minor: m?.[2] ?? "0", emulationMajor: m?.[1] ?? "1", emulationMinor: m?.[2] ?? "0",
    minCompatibilityMajor: m?.[1] ?? "1", minCompatibilityMinor: String(Math.max(0, Number(m?.[2] ?? "1") - 1)),
    gitVersion, gitCommit: "0000000000000000000000000000000000000000", gitTreeState: "clean",
    buildDate: "2026-01-01T00:00:00Z", goVersion: "go1.25.0", compiler: "gc", platform: "linux/amd64",
  };
}

export function apiVersions(serverAddress: string): Obj {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of resources) {
    if (r.group === "") continue;
    const versions = out.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    out.set(r.group, versions);
  }
  return out;
}

function group(name: string, versions: string[]): Obj {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(): Obj {
  return { kind: "APIGroupList", apiVersion: "v1", groups: [...groups()].map(([name, versions]) => group(name, versions)) };
}

export function apiGroup(name: string): Obj | undefined {
  const versions = groups().get(name);
  return versions === undefined ? undefined : { kind: "APIGroup", apiVersion: "v1", ...group(name, versions) };
}

function subresourceEntry(r: ResourceDef, sub: string): Obj {
  switch (sub) {
    case "binding": return { name: `${r.plural}/binding`, singularName: "", namespaced: true, kind: "Binding", verbs: ["create"] };
    case "eviction": return { name: `${r.plural}/eviction`, singularName: "", namespaced: true, group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] };
    case "finalize": return { name: `${r.plural}/finalize`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["update"] };
    default: return { name: `${r.plural}/${sub}`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] };
  }
}

export function apiResourceList(groupVersion: string): Obj | undefined {
  const list = resources.filter((r) => apiVersionOf(r) === groupVersion);
  if (list.length === 0) return undefined;
  const entries: Obj[] = [];
  for (const r of list) {
    const entry: Obj = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs };
    if (r.shortNames.length > 0) entry["shortNames"] = r.shortNames;
    entries.push(entry);
    for (const sub of r.subresources) entries.push(subresourceEntry(r, sub));
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources: entries };
}
