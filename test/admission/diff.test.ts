// The copy-on-write diff: for random JSON documents and random copy-on-write edits, its patch turns
// the original into the edited document and says what fast-json-patch's compare says.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import jsonpatch from "fast-json-patch";
import { describe, expect, it } from "vitest";
import { diff, escapePointerSegment } from "../../injector/mutation/diff.ts";
import { decide } from "../../injector/mutation/decide.ts";
import { inject } from "../../injector/mutation/inject.ts";
import type { Pod } from "../../injector/mutation/pod.ts";
import { applyOps, testFacts, testPolicy } from "../support/admission.ts";

type Edit = { readonly steps: readonly number[]; readonly action: "set" | "remove" | "add"; readonly key: string; readonly value: unknown };

// fast-json-patch, the reference applying these patches here, refuses any path through `__proto__` or
// `constructor/prototype` (as the guard does, see apply.ts), and fc.jsonValue generates such keys on
// purpose; the generated documents leave them out, and the test below covers them on their own.
const json = (maxDepth: number): fc.Arbitrary<unknown> => fc.jsonValue({ maxDepth }).filter((v) => !/"(__proto__|prototype)":/.test(JSON.stringify(v)));
const key = fc.oneof(fc.constantFrom("name", "spec", "a/b", "~x", "~1", "", "0", "__x"), fc.string({ maxLength: 6 }));
const edit: fc.Arbitrary<Edit> = fc.record({
  steps: fc.array(fc.nat(), { maxLength: 5 }),
  action: fc.constantFrom("set", "remove", "add"),
  key,
  value: json(3),
});
// Pods' own shape (nested objects and arrays of objects) plus arbitrary JSON anywhere.
const document = fc.dictionary(key, fc.oneof(json(4), fc.array(fc.dictionary(key, json(2), { maxKeys: 4 }), { maxLength: 4 })), { maxKeys: 8 });

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === "object" && value !== null;
}

/** `doc` with `e` applied, copying only the objects on the way to the change (as inject does). */
function applyEdit(doc: unknown, e: Edit, depth = 0): unknown {
  if (!isContainer(doc)) return e.action === "remove" ? doc : e.value;
  const keys = Array.isArray(doc) ? doc.map((_, i) => i) : Object.keys(doc);
  const step = e.steps[depth];
  if (step !== undefined && keys.length > 0) {
    const k = keys[step % keys.length] ?? 0;
    if (Array.isArray(doc)) {
      const copy: unknown[] = [...doc];
      copy[k as number] = applyEdit(doc[k as number], e, depth + 1);
      return copy;
    }
    return { ...doc, [k]: applyEdit(doc[k as string], e, depth + 1) };
  }
  if (Array.isArray(doc)) {
    const copy: unknown[] = [...doc];
    const at = (step ?? 0) % (copy.length + 1);
    if (e.action === "remove") copy.splice(at, 1);
    else if (e.action === "add") copy.splice(at, 0, e.value);
    else copy[Math.min(at, Math.max(0, copy.length - 1))] = e.value;
    return copy;
  }
  if (e.action !== "remove") return { ...doc, [e.key]: e.value };
  const gone = keys[(step ?? 0) % Math.max(1, keys.length)];
  return Object.fromEntries(Object.entries(doc).filter(([k]) => k !== gone));
}

/** The same JSON text: -0 and 0, and key order, do not matter to the API server. */
function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe("the copy-on-write diff", () => {
  it("turns a document into any copy-on-write edit of it, as fast-json-patch's compare does", () => {
    fc.assert(
      fc.property(document, fc.array(edit, { maxLength: 6 }), (original, edits) => {
        const frozen = JSON.stringify(original);
        const edited = edits.reduce<unknown>((doc, e) => applyEdit(doc, e), original);
        const ops = diff(original, edited);
        expect(asJson(applyOps(original, ops))).toEqual(asJson(edited));
        expect(asJson(ops)).toEqual(asJson(jsonpatch.compare(original, edited as object)));
        expect(JSON.stringify(original)).toBe(frozen);
      }),
      { numRuns: 500 },
    );
  });

  it("diffs a key named __proto__ as an own property, as compare does, and applying that patch is refused", () => {
    const original = JSON.parse('{"a":{}}') as Record<string, unknown>;
    const edited = { a: JSON.parse('{"__proto__":"x"}') as unknown };
    const ops = diff(original, edited);
    expect(ops).toEqual([{ op: "add", path: "/a/__proto__", value: "x" }]);
    expect(ops).toEqual(jsonpatch.compare(original, edited));
    expect(() => applyOps(original, ops)).toThrow(/__proto__/);
    expect(Object.getPrototypeOf(original["a"])).toBe(Object.prototype);
  });

  it("finds nothing to do between a document and itself, or an unchanged copy", () => {
    fc.assert(
      fc.property(document, (original) => {
        expect(diff(original, original)).toEqual([]);
        expect(diff(original, structuredClone(original))).toEqual([]);
      }),
    );
  });

  it("gives the recorded Deployment pod the patch compare gives it", () => {
    const review = JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "real", "admission-deployment-pod.json"), "utf8")) as { request: { object: Pod; namespace: string } };
    const pod = review.request.object;
    const decision = decide(pod, "shop", testFacts(), testPolicy());
    if (!decision.inject) throw new Error(`the recorded pod is not injected: ${decision.reason}`);
    const injected = inject(pod, decision.plan);
    const ops = diff(pod, injected);
    expect(ops.length).toBeGreaterThan(0);
    expect(ops).toEqual(jsonpatch.compare(pod, injected));
    expect(applyOps(pod, ops)).toEqual(injected);
  });

  it("escapes ~ and / in keys as RFC 6901 says", () => {
    expect(escapePointerSegment("lameduck.dev/hook")).toBe("lameduck.dev~1hook");
    expect(escapePointerSegment("a~/b")).toBe("a~0~1b");
    expect(escapePointerSegment("plain")).toBe("plain");
    expect(diff({ "a/b": 1 }, { "a/b": 2 })).toEqual([{ op: "replace", path: "/a~1b", value: 2 }]);
  });
});
