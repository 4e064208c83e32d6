import { describe, expect, it } from "vitest";
import { chartFigures, escapeXml, renderChart, type ChartPanel } from "./chart.ts";

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
    // 10 answered + 5 failed is the busiest bucket: 72 px tall in all.
    expect(Math.max(...ok) + Math.max(...failed)).toBeCloseTo(72, 0);
    expect(failed[0]).toBeCloseTo(72 / 3, 0);
  });

  it("escapes text so labels cannot break the markup", () => {
    expect(escapeXml(`a<b & "c"`)).toBe("a&#60;b &#38; &#34;c&#34;");
    expect(renderChart("x<y", [panel("<script>", [])])).not.toContain("<script>");
  });

  it("draws the rollout band over the bars, labelled and in the legend", () => {
    const svg = renderChart("rollout", [panel("a", [3])]);
    const band = svg.indexOf('class="rollout"/>');
    const lastBar = Math.max(svg.lastIndexOf('class="ok"/>'), svg.lastIndexOf('class="failed"/>'));
    expect(band).toBeGreaterThan(lastBar);
    // 2 s to 6 s of an 8 s span over 780 px: 390 px wide, translucent so the bars show through.
    expect(svg).toMatch(/<rect x="[\d.]+" y="[\d.]+" width="390" height="72" class="rollout"\/>/);
    expect(svg).toContain("fill-opacity:0.22");
    expect(svg).toContain(">rollout 4.0 s</text>");
    expect(svg).toContain('class="key rollout"/>');
    expect(svg).toContain("rollout: first new pod created to last old pod gone");
  });

  it("has a y-axis with round ticks from 0 to the busiest bucket", () => {
    const svg = renderChart("rollout", [panel("a", [3])]);
    const ticks = [...svg.matchAll(/class="ytick">(\d+)<\/text>/g)].map((m) => Number(m[1]));
    expect(ticks).toEqual([0, 5, 10, 15]);
    expect(svg).toContain("y: requests per 1 s");
  });

  it("carries each panel's figures, and gives them back", () => {
    const figures = { strategy: "lameduck", failed: "0", "proxy caught up": "1.9 s (max 3.0 s)" };
    const svg = renderChart("rollout", [{ ...panel("a", []), figures }, { ...panel("b", []), figures: { ...figures, strategy: "<none>" } }]);
    expect(chartFigures(svg)).toEqual([figures, { ...figures, strategy: "<none>" }]);
    expect(chartFigures(renderChart("rollout", [panel("a", [])]))).toBeUndefined();
  });
});
