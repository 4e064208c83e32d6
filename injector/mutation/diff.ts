// The JSON Patch from the raw request object to the injected pod. It yields the operations
// fast-json-patch's `compare` yields (same algorithm: identical references are skipped, objects and
// arrays are walked key by key, array elements removed from the end), with one difference: the
// values in the operations are the mutated pod's own objects instead of deep clones. `compare`
// clones each added value with JSON.parse(JSON.stringify()), which was most of its cost per review;
// the operations are serialised and applied to copies, never modified, so sharing is safe.
import type { Operation } from "fast-json-patch";

type Json = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Json {
  return typeof value === "object" && value !== null;
}

function keysOf(value: Json): string[] {
  if (!Array.isArray(value)) return Object.keys(value);
  const keys = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) keys[i] = String(i);
  return keys;
}

/** RFC 6901: `~` and `/` in a key are written `~0` and `~1`. */
export function escapePointerSegment(key: string): string {
  if (!key.includes("/") && !key.includes("~")) return key;
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** JSON has no `undefined`: `compare` (like JSON.stringify) writes an undefined array element as null. */
function jsonValue(value: unknown): unknown {
  return value === undefined ? null : value;
}

function walk(before: Json, after: Json, path: string, ops: Operation[]): void {
  if (before === after) return;
  const oldKeys = keysOf(before);
  const newKeys = keysOf(after);
  const afterIsArray = Array.isArray(after);
  const was = before as Record<string, unknown>;
  const now = after as Record<string, unknown>;
  let deleted = false;
  for (let t = oldKeys.length - 1; t >= 0; t--) {
    const key = oldKeys[t] ?? "";
    const oldValue = was[key];
    const at = `${path}/${escapePointerSegment(key)}`;
    if (Object.hasOwn(now, key) && !(now[key] === undefined && oldValue !== undefined && !afterIsArray)) {
      const newValue = now[key];
      if (isContainer(oldValue) && isContainer(newValue) && Array.isArray(oldValue) === Array.isArray(newValue)) {
        walk(oldValue, newValue, at, ops);
      } else if (oldValue !== newValue) {
        ops.push({ op: "replace", path: at, value: jsonValue(newValue) });
      }
    } else {
      ops.push({ op: "remove", path: at });
      deleted = true;
    }
  }
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!Object.hasOwn(was, key) && now[key] !== undefined) ops.push({ op: "add", path: `${path}/${escapePointerSegment(key)}`, value: now[key] });
  }
}

/**
 * The operations that turn `before` into `after`, for an `after` made from `before` copy-on-write
 * (unchanged subtrees are the same objects, so the walk only enters what changed). Both are JSON
 * values; the operations' values are `after`'s objects and must be treated as read-only.
 */
export function diff(before: unknown, after: unknown): Operation[] {
  const ops: Operation[] = [];
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) walk(before, after, "", ops);
  else if (before !== after) ops.push({ op: "replace", path: "", value: after });
  return ops;
}
