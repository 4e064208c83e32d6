// The guard's patch application: for random documents and random patches, valid or not, it applies
// what fast-json-patch applies (with validation), refuses what it refuses, and never modifies the
// document it is given.
import fc from "fast-check";
import jsonpatch from "fast-json-patch";
import type { Operation } from "fast-json-patch";
import { describe, expect, it } from "vitest";
import { applyPatchCopy } from "../../injector/mutation/apply.ts";

// Own-member lookup is the one intended difference: fast-json-patch also finds inherited members
// (`/toString`), which no JSON object has; such names are left out of the paths here.
const key = fc.constantFrom("a", "b", "spec", "a/b", "~x", "", "0", "1", "__proto__");
const document = fc.dictionary(
  key,
  fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.array(fc.dictionary(key, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }), { maxLength: 3 })),
  { maxKeys: 6 },
);
const odd = fc.constantFrom("-", "01", "", "9", "x", "length", "a~1b", "~0x", "__proto__", "prototype");
const pointerChoice = fc.record({ steps: fc.array(fc.nat(), { maxLength: 4 }), tail: fc.option(odd, { nil: undefined }) });
const operation = fc.record({
  op: fc.constantFrom("add", "add", "replace", "replace", "remove", "remove", "move", "copy", "test"),
  path: pointerChoice,
  from: pointerChoice,
  value: fc.jsonValue({ maxDepth: 2 }),
});

function escape(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** A pointer into `doc` along existing members chosen by `steps`, then perhaps one odd segment. */
function pointer(doc: unknown, choice: { steps: readonly number[]; tail: string | undefined }): string {
  let path = "";
  let at = doc;
  for (const step of choice.steps) {
    if (typeof at !== "object" || at === null) break;
    const keys = Object.keys(at);
    const k = keys[step % Math.max(1, keys.length)];
    if (k === undefined) break;
    path += `/${escape(k)}`;
    at = (at as Record<string, unknown>)[k];
  }
  return choice.tail === undefined ? path : `${path}/${escape(choice.tail)}`;
}

type Outcome = { readonly ok: true; readonly doc: unknown } | { readonly ok: false };

function attempt(f: () => unknown): Outcome {
  try {
    return { ok: true, doc: f() };
  } catch {
    return { ok: false };
  }
}

describe("the guard's patch application", () => {
  it("applies and refuses exactly what fast-json-patch does, leaving the request object as it was", () => {
    fc.assert(
      fc.property(document, fc.array(operation, { minLength: 1, maxLength: 5 }), (doc, drafts) => {
        const ops = drafts.map((d) => ({ op: d.op, path: pointer(doc, d.path), from: pointer(doc, d.from), value: d.value }) as Operation);
        const before = structuredClone(doc);
        const expected = attempt(() => jsonpatch.applyPatch(structuredClone(doc), structuredClone(ops), true, true, true).newDocument);
        const actual = attempt(() => applyPatchCopy(doc, ops));
        expect(actual).toEqual(expected);
        expect(doc).toEqual(before);
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses a member that is only inherited, as the API server does", () => {
    expect(() => applyPatchCopy({ a: {} }, [{ op: "remove", path: "/a/toString" }])).toThrow(/no such member/);
    expect(() => applyPatchCopy({ a: [1] }, [{ op: "replace", path: "/a/length", value: 0 }])).toThrow(/no such array element/);
  });

  it("refuses to touch __proto__ or constructor/prototype", () => {
    expect(() => applyPatchCopy({ a: {} }, [{ op: "add", path: "/a/__proto__/x", value: 1 }])).toThrow(/banned/);
    expect(() => applyPatchCopy({ constructor: { prototype: {} } }, [{ op: "add", path: "/constructor/prototype/x", value: 1 }])).toThrow(/banned/);
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
  });

  it("leaves the source of a move where it was in the request object", () => {
    const doc = { a: { b: { c: 1 } }, d: {} };
    const after = applyPatchCopy(doc, [{ op: "move", from: "/a/b", path: "/d/b" }, { op: "add", path: "/a/x", value: 2 }]);
    expect(after).toEqual({ a: { x: 2 }, d: { b: { c: 1 } } });
    expect(doc).toEqual({ a: { b: { c: 1 } }, d: {} });
  });
});
