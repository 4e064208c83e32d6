// The uid scan answers what JSON.parse would: for every recorded review and for generated JSON and
// reviews of every shape; where only raw text differs from a parse (repeated keys, a truncated
// body), it answers as documented.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { reviewUid } from "../../injector/admission/review.ts";
import { scanReviewUid } from "../../injector/admission/uid-scan.ts";

const realDir = join(import.meta.dirname, "..", "fixtures", "real");

/** What the webhook reads from a body it parses. */
function parsedUid(text: string): string | undefined {
  try {
    return reviewUid(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function scanned(text: string): string | undefined {
  return scanReviewUid(Buffer.from(text, "utf8"));
}

const uid = fc.oneof(fc.uuid(), fc.string({ maxLength: 12 }), fc.constantFrom("", 'a"b', "a\\b", "ü\u0000\n", "}]"));

describe("reading request.uid without parsing the body", () => {
  it("finds the uid of every recorded AdmissionReview, formatted or not", () => {
    const files = readdirSync(realDir).filter((f) => f.startsWith("admission-") && f.endsWith(".json") && f !== "admission-index.json");
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = readFileSync(join(realDir, file), "utf8");
      const expected = parsedUid(text);
      expect(expected, file).toBeDefined();
      expect(scanned(text), file).toBe(expected);
      expect(scanned(JSON.stringify(JSON.parse(text))), file).toBe(expected);
    }
  });

  it("agrees with JSON.parse on generated JSON and review-shaped documents", () => {
    const value = fc.jsonValue({ maxDepth: 4 });
    const review = fc.record(
      {
        apiVersion: fc.constant("admission.k8s.io/v1"),
        kind: fc.constant("AdmissionReview"),
        request: fc.oneof(
          fc.record({ uid: fc.oneof(uid, value), object: value, namespace: fc.string() }, { requiredKeys: [] }),
          value,
        ),
        other: value,
      },
      { requiredKeys: ["request"] },
    );
    fc.assert(
      fc.property(fc.oneof(value, review), fc.boolean(), (doc, pretty) => {
        const text = JSON.stringify(doc, null, pretty ? 2 : undefined);
        expect(scanned(text)).toBe(parsedUid(text));
      }),
      { numRuns: 2000 },
    );
  });

  it("reads only the request's own uid, not one nested deeper or elsewhere, with escapes undone", () => {
    const cases = [
      '{"request":{"object":{"uid":"inner","metadata":{"uid":"deeper"}},"uid":"outer"}}',
      '{"kind":{"request":{"uid":"nested"}},"request":{"uid":"top"}}',
      '{"request":7,"other":{"uid":"x"}}',
      '{"request":{"uid":{"x":"y"}}}',
      '{"request":{"uid":""}}',
      '[{"request":{"uid":"in-array"}}]',
      '{"request":{"uid":"\\u0061\\"b"}}',
    ];
    for (const text of cases) expect(scanned(text), text).toBe(parsedUid(text));
  });

  it("stops at the first uid of the request: the rest of the body is never read", () => {
    expect(scanned('{"request":{"uid":"a","uid":"b"}}')).toBe("a");
    expect(scanned('{"request":{"uid":"first","object":{"spec":')).toBe("first");
    expect(scanned(`{"request":{"uid":"first","object":${"[".repeat(100_000)}`)).toBe("first");
  });

  it("finds no uid in a body cut before it, or not an object", () => {
    const text = '{"apiVersion":"admission.k8s.io/v1","request":{"uid":"abc","object":{"spec":{}}}}';
    const uidEnd = text.indexOf('"abc"') + '"abc"'.length;
    for (let n = 0; n < uidEnd; n++) expect(scanned(text.slice(0, n)), text.slice(0, n)).toBeUndefined();
    expect(scanned('{"request":{"uid":"abc}}')).toBeUndefined();
    expect(scanned('"request"')).toBeUndefined();
  });
});
