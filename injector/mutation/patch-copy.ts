// The copy of the request object the guard applies its patch to. A deep copy of the whole pod cost
// more than the rest of the review (managedFields, env, every container), and for a pod of 1 MiB it
// held the event loop for tens of milliseconds; the patch only ever changes what lies on its paths.
import type { Operation } from "fast-json-patch";

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === "object" && value !== null;
}

function shallowCopy(value: Container): Container {
  return Array.isArray(value) ? [...value] : { ...value };
}

/**
 * A copy of `doc` that applying `ops` in place leaves `doc` unchanged by: every object and array on
 * an operation's path is copied (shallowly), everything else is shared. Only for `add`, `replace`
 * and `remove`, which change nothing but their own path (compare() yields no other); for any other
 * operation, undefined (take a deep copy instead). The path is followed through own members only,
 * so it never reaches a prototype; fast-json-patch then refuses what does not apply.
 */
export function copyAlongPaths(doc: unknown, ops: readonly Operation[]): unknown {
  if (ops.some((op) => op.op !== "add" && op.op !== "replace" && op.op !== "remove")) return undefined;
  if (!isContainer(doc)) return doc;
  const root = shallowCopy(doc);
  const copies = new Set<unknown>([root]);
  for (const op of ops) {
    const segments = op.path.split("/").slice(1);
    let parent: Container = root;
    // The last segment names what the operation adds, replaces or removes: its parent is the last to copy.
    for (let i = 0; i < segments.length - 1; i++) {
      const segment = segments[i] ?? "";
      const key = segment.includes("~") ? segment.replace(/~1/g, "/").replace(/~0/g, "~") : segment;
      if (!Object.hasOwn(parent, key)) break;
      const child = (parent as Record<string, unknown>)[key];
      if (!isContainer(child)) break;
      let copy: Container = child;
      if (!copies.has(child)) {
        copy = shallowCopy(child);
        (parent as Record<string, unknown>)[key] = copy;
        copies.add(copy);
      }
      parent = copy;
    }
  }
  return root;
}
