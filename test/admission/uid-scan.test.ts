// The uid scan answers what JSON.parse would: for every recorded review, for generated JSON and
// reviews of every shape, and for the duplicate keys only raw text can carry.
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

  it("takes the last of duplicate keys, as JSON.parse does", () => {
    const cases = [
      '{"request":{"uid":"a","uid":"b"}}',
      '{"request":{"uid":"a"},"request":{"uid":"b"}}',
      '{"request":{"uid":"a"},"request":{"object":{}}}',
      '{"request":{"uid":"a"},"request":7}',
      '{"request":{"uid":"a","uid":{"x":"y"}}}',
      '{"request":{"uid":"a","uid":["b"]}}',
      '{"request":{"uid":"a","uid":null}}',
      '{"request":{"object":{"uid":"inner","metadata":{"uid":"deeper"}},"uid":"outer"}}',
      '{"kind":{"request":{"uid":"nested"}},"request":{"uid":"top"}}',
      '[{"request":{"uid":"in-array"}}]',
      '{"request":{"uid":"\\u0061\\"b"}}',
    ];
    for (const text of cases) expect(scanned(text), text).toBe(parsedUid(text));
  });

  it("gives up on truncated or unbalanced bodies rather than guess", () => {
    const text = '{"apiVersion":"admission.k8s.io/v1","request":{"uid":"abc","object":{"spec":{}}}}';
    for (let n = 0; n < text.length; n++) expect(scanned(text.slice(0, n)), text.slice(0, n)).toBeUndefined();
    expect(scanned(`${text}}`)).toBeUndefined();
    expect(scanned('{"request":{"uid":"abc}}')).toBeUndefined();
  });
});
