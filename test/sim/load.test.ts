import { describe, expect, it } from "vitest";
import { bucketize, percentile, summarize, type RequestRecord } from "./load.ts";

const rec = (atMs: number, latencyMs: number, ok = true): RequestRecord => ({ atMs, latencyMs, ok, retried: false, ...(ok ? {} : { kind: "refused" as const }) });

describe("the load generator's figures", () => {
  it("p99 is the value below which 99% of the latencies fall", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([], 99)).toBe(0);
  });

  it("counts failures by kind and buckets requests over time", () => {
    const records = [rec(10, 1), rec(600, 2, false), rec(700, 3), rec(1900, 4, false)];
    expect(summarize(records)).toMatchObject({ requests: 4, failed: 2, failuresByKind: { refused: 2 } });
    expect(bucketize(records, 500, 0, 2000)).toEqual([
      { startMs: 0, ok: 1, failed: 0 },
      { startMs: 500, ok: 1, failed: 1 },
      { startMs: 1000, ok: 0, failed: 0 },
      { startMs: 1500, ok: 0, failed: 1 },
    ]);
  });
});
