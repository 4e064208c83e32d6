// PATCH bodies: JSON Patch (RFC 6902, via fast-json-patch), JSON merge patch (RFC 7386), strategic
// merge patch and server-side apply. The last two are approximations: strategic merge merges the
// lists lameduck and its tests touch by their merge keys (containers by name, conditions by type,
// ...) and replaces other lists, honouring only `$patch: delete` in list items; apply is a merge of
// the applied configuration with no field ownership.
import fastJsonPatch from "fast-json-patch";
import { parse as parseYaml } from "yaml";
import type { Obj } from "./objects.ts";
import { isObj } from "./objects.ts";
import { ApiError, badRequest, unsupportedMediaType } from "./status.ts";

export const PatchType = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
} as const;

// Merge keys of the lists in the objects the fake serves (from the `patchMergeKey` struct tags).
const mergeKeys: Record<string, string> = {
  containers: "name", initContainers: "name", ephemeralContainers: "name", volumes: "name",
  volumeMounts: "mountPath", env: "name", ports: "containerPort", conditions: "type",
  ownerReferences: "uid", imagePullSecrets: "name", hostAliases: "ip", containerStatuses: "name",
  initContainerStatuses: "name", podIPs: "ip", addresses: "type", taints: "key",
  // MutatingWebhookConfiguration.webhooks, which a webhook patches to rotate its caBundle.
  webhooks: "name",
};

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) out[k] = v === null ? undefined : mergePatch(out[k], v);
  return dropUndefined(out);
}

function dropUndefined(o: Obj): Obj {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function strategicList(key: string, target: unknown, patch: unknown[]): unknown[] {
  const mk = mergeKeys[key];
  if (mk === undefined || !Array.isArray(target) || !patch.every(isObj)) return patch.filter((p) => !(isObj(p) && p["$patch"] === "delete"));
  const out: unknown[] = target.slice();
  for (const item of patch) {
    const idx = out.findIndex((t) => isObj(t) && t[mk] === item[mk]);
    if (item["$patch"] === "delete") {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) {
      out[idx] = strategicMerge(out[idx], item);
    } else {
      out.push(item);
    }
  }
  return out;
}

function strategicMerge(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue;
    if (v === null) out[k] = undefined;
    else if (Array.isArray(v)) out[k] = strategicList(k, out[k], v);
    else out[k] = strategicMerge(out[k], v);
  }
  return dropUndefined(out);
}

export function parsePatchBody(contentType: string, text: string): unknown {
  try {
    return contentType === PatchType.apply ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw badRequest(`error decoding patch: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Applies a patch of the given media type to `current` (not modified) and returns the new object. */
export function applyPatch(contentType: string, current: Obj, patch: unknown): Obj {
  let result: unknown;
  switch (contentType) {
    case PatchType.json: {
      if (!Array.isArray(patch)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
      try {
        result = fastJsonPatch.applyPatch(structuredClone(current), patch as fastJsonPatch.Operation[], true, false).newDocument;
      } catch (e) {
        const message = e instanceof Error ? e.message.split("\n")[0] ?? "" : String(e);
        throw new ApiError(422, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `the server rejected our request due to an error in our request: ${message}`, reason: "Invalid", details: {}, code: 422 });
      }
      break;
    }
    case PatchType.merge:
      result = mergePatch(current, patch);
      break;
    case PatchType.strategic:
    case PatchType.apply:
      result = strategicMerge(current, patch);
      break;
    default:
      throw unsupportedMediaType(true);
  }
  if (!isObj(result)) throw badRequest("the patch did not produce an object");
  return result;
}
