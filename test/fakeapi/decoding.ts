// After a webhook's patch, the real server decodes the JSON into its Go types; a value of the wrong
// type fails the request with a 500 carrying encoding/json's message. This checks the pod fields a
// mutating webhook like lameduck writes (metadata maps, grace period, volumes, mounts, lifecycle).
import type { Obj } from "./objects.ts";
import { isObj } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";

type Schema = "string" | "int" | "bool" | "[]string" | "map[string]string" | { readonly struct: string; readonly fields: Readonly<Record<string, Schema>> } | { readonly array: Schema };

const handler: Schema = { struct: "LifecycleHandler", fields: {
  exec: { struct: "ExecAction", fields: { command: "[]string" } },
  sleep: { struct: "SleepAction", fields: { seconds: "int" } },
} };
const keyToPath: Schema = { array: { struct: "KeyToPath", fields: { key: "string", path: "string", mode: "int" } } };
const container: Schema = { struct: "Container", fields: {
  name: "string", image: "string", command: "[]string", args: "[]string",
  volumeMounts: { array: { struct: "VolumeMount", fields: { name: "string", mountPath: "string", readOnly: "bool", subPath: "string" } } },
  lifecycle: { struct: "Lifecycle", fields: { preStop: handler, postStart: handler } },
} };
const pod: Schema = { struct: "Pod", fields: {
  metadata: { struct: "ObjectMeta", fields: { labels: "map[string]string", annotations: "map[string]string", name: "string", generateName: "string" } },
  spec: { struct: "PodSpec", fields: {
    terminationGracePeriodSeconds: "int", nodeSelector: "map[string]string",
    containers: { array: container }, initContainers: { array: container },
    volumes: { array: { struct: "Volume", fields: {
      name: "string",
      projected: { struct: "ProjectedVolumeSource", fields: { defaultMode: "int", sources: { array: { struct: "VolumeProjection", fields: {
        configMap: { struct: "ConfigMapProjection", fields: { name: "string", optional: "bool", items: keyToPath } },
        downwardAPI: { struct: "DownwardAPIProjection", fields: { items: { array: { struct: "DownwardAPIVolumeFile", fields: { path: "string", mode: "int" } } } } },
      } } } } },
    } } },
  } },
} };

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v === "object" ? "object" : typeof v;
}

function goType(s: Schema): string {
  if (typeof s === "string") return s === "int" ? "int64" : s;
  if ("array" in s) return `[]${goType(s.array)}`;
  return `v1.${s.struct}`;
}

function check(v: unknown, s: Schema, owner: string, path: string): string | undefined {
  if (v === null || v === undefined) return undefined;
  const fail = (): string => `json: cannot unmarshal ${jsonType(v)} into Go struct field ${owner}.${path} of type ${goType(s)}`;
  if (s === "string") return typeof v === "string" ? undefined : fail();
  if (s === "bool") return typeof v === "boolean" ? undefined : fail();
  if (s === "int") return typeof v === "number" && Number.isInteger(v) ? undefined : fail();
  if (s === "[]string") return Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : fail();
  if (s === "map[string]string") return isObj(v) && Object.values(v).every((x) => typeof x === "string" || x === null) ? undefined : fail();
  if ("array" in s) {
    if (!Array.isArray(v)) return fail();
    for (const item of v) {
      const e = check(item, s.array, owner, path);
      if (e !== undefined) return e;
    }
    return undefined;
  }
  if (!isObj(v)) return fail();
  for (const [k, sub] of Object.entries(s.fields)) {
    const e = check(v[k], sub, s.struct, path === "" ? k : `${path}.${k}`);
    if (e !== undefined) return e;
  }
  return undefined;
}

/** The decoding error the real server would report for this object, if any. */
export function typeErrors(r: ResourceDef, o: Obj): string | undefined {
  if (r.group !== "" || r.plural !== "pods") return undefined;
  return check(o, pod, "Pod", "");
}
