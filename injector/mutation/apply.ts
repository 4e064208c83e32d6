// Applying a JSON Patch to the request object for the guard, without modifying it. `add`, `replace`
// and `remove` (all the diff produces) are applied here with fast-json-patch's validation rules,
// checked operation by operation against fast-json-patch in test/admission/apply.test.ts; any other
// operation goes through fast-json-patch itself. fast-json-patch's own walk over a pod cost more than
// the rest of the review together (its keyed lookups see objects of every shape).
import jsonpatch from "fast-json-patch";
import type { Operation } from "fast-json-patch";

type Container = Record<string, unknown> | unknown[];

export class PatchError extends Error {
  override readonly name = "PatchError";
}

function isContainer(value: unknown): value is Container {
  return typeof value === "object" && value !== null;
}

function shallowCopy(value: Container): Container {
  return Array.isArray(value) ? [...value] : { ...value };
}

function pointerSegments(pointer: string): string[] {
  const segments = pointer.split("/").slice(1);
  return pointer.includes("~") ? segments.map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~")) : segments;
}

/** fast-json-patch's `isInteger`: digits only (the empty string included). */
function isDigits(segment: string): boolean {
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** The member of `container` a segment names, when it exists as its own property. */
function member(container: Container, segment: string): unknown {
  return Object.hasOwn(container, segment) ? (container as Record<string, unknown>)[segment] : undefined;
}

function banned(segments: readonly string[], i: number): boolean {
  const segment = segments[i];
  return segment === "__proto__" || (segment === "prototype" && i > 0 && segments[i - 1] === "constructor");
}

/**
 * Applies `ops` to `doc` validating each operation, without modifying `doc`: the objects on each
 * operation's path are copied first, once per patch (copy-on-write), which is far cheaper than
 * cloning a pod whose managedFields alone are kilobytes. Throws on the first operation that does
 * not apply. Object members are looked up as own properties only (fast-json-patch also finds
 * inherited ones such as `toString`, which no JSON object has).
 */
export function applyPatchCopy(doc: unknown, ops: readonly Operation[]): unknown {
  let root = isContainer(doc) ? shallowCopy(doc) : doc;
  const copies = new Set<unknown>([root]);
  // After an operation handed to fast-json-patch (move, copy, test, the root), the document is a
  // deep copy: a `move` changes its source path too, which the copy-on-write walk does not cover.
  let cloned = false;
  for (const op of ops) {
    // Operation shape, and no undefined anywhere in its value.
    jsonpatch.validator(op, 0);
    if ((op.op !== "add" && op.op !== "replace" && op.op !== "remove") || op.path === "" || !isContainer(root)) {
      if (!cloned) root = structuredClone(root);
      cloned = true;
      root = jsonpatch.applyOperation(root, op, true, true, true).newDocument;
      continue;
    }
    const segments = pointerSegments(op.path);
    const last = segments.length - 1;
    let parent: Container = root;
    for (let i = 0; i <= last; i++) {
      if (banned(segments, i)) throw new PatchError(`${op.op} ${op.path}: modifying __proto__ or constructor/prototype is banned`);
      if (i === last) break;
      const segment = segments[i] ?? "";
      const found = member(parent, segment);
      if (!isContainer(found)) throw new PatchError(`${op.op} ${op.path}: no object or array at /${segments.slice(0, i + 1).join("/")}`);
      let child: Container = found;
      if (!cloned && !copies.has(child)) {
        child = shallowCopy(child);
        (parent as Record<string, unknown>)[segment] = child;
        copies.add(child);
      }
      parent = child;
    }
    const segment = segments[last] ?? "";
    if (Array.isArray(parent)) {
      const array: unknown[] = parent;
      if (op.op === "add") {
        if (segment !== "-" && !isDigits(segment)) throw new PatchError(`add ${op.path}: not an array index`);
        const index = segment === "-" ? array.length : ~~segment;
        if (index > array.length) throw new PatchError(`add ${op.path}: index past the end of the array`);
        array.splice(index, 0, op.value);
      } else {
        if (!isDigits(segment) || member(array, segment) === undefined) throw new PatchError(`${op.op} ${op.path}: no such array element`);
        if (op.op === "remove") array.splice(Number(segment), 1);
        else array[Number(segment)] = op.value;
      }
      continue;
    }
    if (op.op !== "add" && member(parent, segment) === undefined) throw new PatchError(`${op.op} ${op.path}: no such member`);
    if (op.op === "remove") Reflect.deleteProperty(parent, segment);
    else parent[segment] = op.value;
  }
  return root;
}
