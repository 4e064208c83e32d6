import { describe, expect, it } from "vitest";
import { escapeXml, renderChart, type ChartPanel } from "./chart.ts";

const panel = (label: string, failedAt: readonly number[]): ChartPanel => ({
  label,
  bucketMs: 1000,
  rolloutFromMs: 2000,
  rolloutToMs: 6000,
  buckets: Array.from({ length: 8 }, (_, i) => ({ startMs: i * 1000, ok: 10, failed: failedAt.includes(i) ? 5 : 0 })),
});

function rects(svg: string, cls: string): { height: number }[] {
  return [...svg.matchAll(new RegExp(`<rect [^>]*height="([\\d.]+)" class="${cls}"/>`, "g"))].map((m) => ({ height: Number(m[1]) }));
}

describe("the SVG chart", () => {
  it("draws one red bar per bucket with failures and names each panel with its failure count", () => {
    const svg = renderChart("rollout", [panel("none", [3, 4]), panel("lameduck", [])]);
    expect(rects(svg, "failed")).toHaveLength(2);
    expect(rects(svg, "ok")).toHaveLength(16);
    expect(svg).toContain("none — 10 failed");
    expect(svg).toContain("lameduck — 0 failed");
    expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });

  it("scales bars to the busiest bucket of all panels, so panels compare", () => {
    const svg = renderChart("rollout", [panel("a", [1]), panel("b", [])]);
    const ok = rects(svg, "ok").map((r) => r.height);
    const failed = rects(svg, "failed").map((r) => r.height);
    // 10 answered + 5 failed is the busiest bucket: 70 px tall in all.
    expect(Math.max(...ok) + Math.max(...failed)).toBeCloseTo(70, 0);
    expect(failed[0]).toBeCloseTo(70 / 3, 0);
  });

  it("escapes text so labels cannot break the markup", () => {
    expect(escapeXml(`a<b & "c"`)).toBe("a&#60;b &#38; &#34;c&#34;");
    expect(renderChart("x<y", [panel("<script>", [])])).not.toContain("<script>");
  });
});
