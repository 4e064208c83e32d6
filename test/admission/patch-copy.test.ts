// The guard's copy: a patch applied to it in place gives what applying it to a deep copy gives, and
// leaves the request object exactly as it was.
import jsonpatch, { type Operation } from "fast-json-patch";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { copyAlongPaths } from "../../injector/mutation/patch-copy.ts";

const doc = fc.dictionary(fc.constantFrom("metadata", "spec", "a/b", "c~d", "0", "-"), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 });

describe("the copy along a patch's paths", () => {
  it("takes any compare() patch to its target and leaves the original untouched", () => {
    fc.assert(
      fc.property(doc, doc, (before, target) => {
        // fast-json-patch refuses any path through __proto__ or constructor/prototype (the last test).
        fc.pre(!/"(__proto__|prototype)"/.test(JSON.stringify([before, target])));
        const snapshot = structuredClone(before);
        const ops = jsonpatch.compare(before, target);
        const copy = copyAlongPaths(before, ops);
        const after = jsonpatch.applyPatch(copy, ops, true, true, true).newDocument;
        // As JSON: compare() copies values through JSON, which has no -0.
        expect(JSON.parse(JSON.stringify(after))).toEqual(JSON.parse(JSON.stringify(target)));
        expect(before).toEqual(snapshot);
      }),
      { numRuns: 1000 },
    );
  });

  it("shares what no operation touches", () => {
    const untouched = { env: [{ name: "A", value: "1" }] };
    const before = { spec: { containers: [{ name: "web" }, untouched] }, metadata: { labels: { app: "web" } } };
    const ops: Operation[] = [{ op: "add", path: "/spec/containers/0/lifecycle", value: { preStop: { sleep: { seconds: 5 } } } }];
    const copy = copyAlongPaths(before, ops) as typeof before;
    expect(copy.spec.containers[1]).toBe(untouched);
    expect(copy.metadata).toBe(before.metadata);
    expect(copy.spec.containers[0]).not.toBe(before.spec.containers[0]);
  });

  it("refuses operations that read elsewhere (move, copy, test): the guard takes a deep copy then", () => {
    expect(copyAlongPaths({ a: 1 }, [{ op: "move", from: "/a", path: "/b" }])).toBeUndefined();
    expect(copyAlongPaths({ a: 1 }, [{ op: "test", path: "/a", value: 1 }])).toBeUndefined();
  });

  it("never walks into a prototype: __proto__ and constructor are refused by fast-json-patch on the copy", () => {
    const before = JSON.parse('{"spec":{}}') as Record<string, unknown>;
    for (const path of ["/__proto__/polluted", "/constructor/prototype/polluted", "/spec/__proto__/polluted"]) {
      const ops: Operation[] = [{ op: "add", path, value: true }];
      expect(() => jsonpatch.applyPatch(copyAlongPaths(before, ops), ops, true, true, true)).toThrow();
    }
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });
});
