// Re-running `lameduck inject` with other settings: the template loses what an earlier run added
// (found by the marker, the hook volume and the preStop that runs it) and is injected afresh, so
// the output follows the flags of the last run, as a GitOps repository expects. What the user wrote
// (their own preStops, volumes, labels) is never touched. The webhook has no such pass: a pod it
// sees again keeps its first injection (reinvocation is idempotent by design).
import jsonpatch from "fast-json-patch";
import { parseDuration } from "../duration.ts";
import { findHookVolume } from "../mutation/volume.ts";
import { defaultGracePeriodSeconds, isObject, readPod, type Container } from "../mutation/pod.ts";
import { extendedGrace } from "../mutation/decide.ts";
import { Annotation, Label } from "../names.ts";

type Json = Record<string, unknown>;

/** Seconds the hook may take, from the preStop lameduck wrote: `sleep: {seconds}`, `… sleep 15s`, `… wait --max=30s …`. */
function hookSeconds(preStop: Json | undefined): number | undefined {
  if (preStop === undefined) return undefined;
  const sleep = preStop["sleep"];
  if (isObject(sleep) && typeof sleep["seconds"] === "number") return sleep["seconds"];
  const exec = preStop["exec"];
  const command = isObject(exec) && Array.isArray(exec["command"]) ? exec["command"].filter((c): c is string => typeof c === "string") : [];
  const text = command[1] === "sleep" ? command[2] : command.find((a) => a.startsWith("--max="))?.slice("--max=".length);
  const d = text === undefined ? undefined : parseDuration(text);
  return d?.ok === true ? Math.ceil(d.ms / 1000) : undefined;
}

function dropKey(obj: Json, key: string, empty: (v: unknown) => boolean): void {
  if (empty(obj[key])) Reflect.deleteProperty(obj, key);
}
const emptyObject = (v: unknown): boolean => isObject(v) && Object.keys(v).length === 0;
const emptyArray = (v: unknown): boolean => Array.isArray(v) && v.length === 0;

/**
 * The template without an earlier injection, or undefined when it carries none (no marker). The
 * grace period goes back to what it was when the extension can be undone exactly (below the cap);
 * at the cap it stays, and injecting again keeps it there.
 */
export function stripInjection(template: unknown, maxGracePeriodSeconds: number): Json | undefined {
  if (!isObject(template)) return undefined;
  const meta = template["metadata"];
  const annotations = isObject(meta) ? meta["annotations"] : undefined;
  if (!isObject(annotations) || typeof annotations[Annotation.injected] !== "string") return undefined;
  const read = readPod(template);
  if (!read.ok) return undefined;
  // Any image: the run that added it may have named another --hook-image; the marker and the
  // preStop that runs the volume's hook (below) are what make it lameduck's.
  const volume = findHookVolume(read.pod, { configMap: true, image: () => true });
  const volumeNames = new Set(volume === undefined ? [] : [volume.name, ...(volume.origin.kind === "image" ? [volume.origin.podinfo.name] : [])]);
  const copy = structuredClone(template) as Json;
  const metadata = copy["metadata"] as Json;
  const marks = metadata["annotations"] as Json;
  const mode = String(marks[Annotation.injected]);
  Reflect.deleteProperty(marks, Annotation.injected);
  dropKey(metadata, "annotations", emptyObject);
  if (isObject(metadata["labels"])) {
    Reflect.deleteProperty(metadata["labels"], Label.hook);
    dropKey(metadata, "labels", emptyObject);
  }
  dropKey(copy, "metadata", emptyObject);

  const spec = isObject(copy["spec"]) ? copy["spec"] : {};
  const ours = (c: Container): boolean => {
    const preStop = c.lifecycle?.preStop;
    if (preStop === undefined) return false;
    if (volume !== undefined) return preStop.exec?.command?.[0] === `${volume.mountPath}/hook`;
    // Without a hook volume lameduck writes the native sleep action, and only in sleep mode's marker.
    return mode.endsWith(" sleep") && preStop.sleep !== undefined && preStop.exec === undefined;
  };
  let removed: number | undefined;
  const containers = Array.isArray(spec["containers"]) ? spec["containers"] : [];
  for (const c of containers) {
    if (!isObject(c)) continue;
    const container = c as Container & Json;
    if (ours(container) && isObject(c["lifecycle"])) {
      removed ??= hookSeconds(isObject(c["lifecycle"]["preStop"]) ? c["lifecycle"]["preStop"] : undefined);
      Reflect.deleteProperty(c["lifecycle"], "preStop");
      dropKey(c, "lifecycle", emptyObject);
    }
    if (volume !== undefined && Array.isArray(c["volumeMounts"])) {
      c["volumeMounts"] = c["volumeMounts"].filter((m) => !(isObject(m) && typeof m["name"] === "string" && volumeNames.has(m["name"])));
      dropKey(c, "volumeMounts", emptyArray);
    }
  }
  if (volume !== undefined && Array.isArray(spec["volumes"])) {
    spec["volumes"] = spec["volumes"].filter((v) => !(isObject(v) && typeof v["name"] === "string" && volumeNames.has(v["name"])));
    dropKey(spec, "volumes", emptyArray);
  }
  const grace = spec["terminationGracePeriodSeconds"];
  if (typeof grace === "number" && removed !== undefined && grace < maxGracePeriodSeconds && grace - removed >= 0 && extendedGrace(grace - removed, removed, maxGracePeriodSeconds) === grace) {
    // Back at the API's default it was most likely lameduck's to begin with (a written 30 means the same).
    if (grace - removed === defaultGracePeriodSeconds) Reflect.deleteProperty(spec, "terminationGracePeriodSeconds");
    else spec["terminationGracePeriodSeconds"] = grace - removed;
  }
  return copy;
}

/**
 * `after` with each of its volumes replaced by the template's volume of the same name when that one
 * holds the same and more (fields the API server defaulted, like a fieldRef's apiVersion): a re-run
 * with unchanged settings then changes no byte of it.
 */
export function keepDefaulted(template: Json, after: Json): Json {
  const before = isObject(template["spec"]) && Array.isArray(template["spec"]["volumes"]) ? template["spec"]["volumes"] : [];
  const spec = after["spec"];
  if (!isObject(spec) || !Array.isArray(spec["volumes"])) return after;
  const volumes = spec["volumes"].map((v: unknown) => {
    const old: unknown = isObject(v) ? before.find((b) => isObject(b) && b["name"] === v["name"]) : undefined;
    return isObject(v) && isObject(old) && jsonpatch.compare(v, old).every((op) => op.op === "add") ? old : v;
  });
  return { ...after, spec: { ...spec, volumes } };
}
