// The rollout chart as a plain SVG string, one panel per scenario: requests per time bucket as bars
// (answered in grey, failed in red), the rollout's span as a band drawn over the bars (translucent,
// edged and labelled, so it shows however tall they are), and a y-axis in requests per bucket. The
// figures of each scenario (the table the docs show) ride along in a <desc> element, so that the
// chart and the table cannot come from different runs (test/ops/docs.test.ts compares them). No
// dependency: a few rects and text elements are all a README image needs.
import type { Bucket } from "./load.ts";

export interface ChartPanel {
  readonly label: string;
  readonly bucketMs: number;
  readonly buckets: readonly Bucket[];
  readonly rolloutFromMs: number;
  readonly rolloutToMs: number;
  /** The scenario's row of the figures table, column → value. */
  readonly figures?: Readonly<Record<string, string>>;
}

const width = 860;
const left = 64;
const right = 16;
const panelHeight = 116;
const plotHeight = 72;
const top = 58;

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

const fmt = (n: number): string => String(Math.round(n * 10) / 10);

/** A round step for `max` in about three ticks: 1, 2 or 5 times a power of ten. */
function tickStep(max: number): number {
  const rough = max / 3;
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? power * 10;
}

function panel(p: ChartPanel, y0: number, spanMs: number, maxPerBucket: number): string[] {
  const plotWidth = width - left - right;
  const x = (ms: number): number => left + (ms / spanMs) * plotWidth;
  const h = (n: number): number => (n / maxPerBucket) * plotHeight;
  const base = y0 + 24 + plotHeight;
  const failed = p.buckets.reduce((sum, b) => sum + b.failed, 0);
  const out = [`<text x="${String(left)}" y="${fmt(y0 + 14)}" class="label">${escapeXml(p.label)} — ${String(failed)} failed</text>`];
  const barWidth = Math.max(1, (p.bucketMs / spanMs) * plotWidth - 1);
  for (const b of p.buckets) {
    const bx = fmt(x(b.startMs));
    if (b.ok > 0) out.push(`<rect x="${bx}" y="${fmt(base - h(b.ok))}" width="${fmt(barWidth)}" height="${fmt(h(b.ok))}" class="ok"/>`);
    if (b.failed > 0) out.push(`<rect x="${bx}" y="${fmt(base - h(b.ok) - h(b.failed))}" width="${fmt(barWidth)}" height="${fmt(h(b.failed))}" class="failed"/>`);
  }
  const bandX = x(p.rolloutFromMs);
  const bandW = Math.max(2, x(p.rolloutToMs) - bandX);
  out.push(
    `<rect x="${fmt(bandX)}" y="${fmt(base - plotHeight)}" width="${fmt(bandW)}" height="${String(plotHeight)}" class="rollout"/>`,
    `<text x="${fmt(bandX + 3)}" y="${fmt(base - plotHeight + 10)}" class="band">rollout ${((p.rolloutToMs - p.rolloutFromMs) / 1000).toFixed(1)} s</text>`,
  );
  const step = tickStep(maxPerBucket);
  for (let v = 0; v <= maxPerBucket; v += step) {
    const ty = base - h(v);
    out.push(`<line x1="${String(left - 4)}" y1="${fmt(ty)}" x2="${String(left)}" y2="${fmt(ty)}" class="axis"/>`, `<text x="${String(left - 6)}" y="${fmt(ty + 4)}" class="ytick">${String(v)}</text>`);
  }
  out.push(
    `<line x1="${String(left)}" y1="${fmt(base - plotHeight)}" x2="${String(left)}" y2="${fmt(base)}" class="axis"/>`,
    `<line x1="${String(left)}" y1="${fmt(base)}" x2="${String(width - right)}" y2="${fmt(base)}" class="axis"/>`,
  );
  return out;
}

function legend(bucketMs: number): string[] {
  const y = 40;
  const item = (x: number, cls: string, text: string): string[] => [
    `<rect x="${String(x)}" y="${String(y - 10)}" width="12" height="12" class="key ${cls}"/>`,
    `<text x="${String(x + 17)}" y="${String(y)}" class="legend">${escapeXml(text)}</text>`,
  ];
  return [
    ...item(left, "ok", "answered"),
    ...item(left + 100, "failed", "failed"),
    ...item(left + 180, "rollout", "rollout: first new pod created to last old pod gone"),
    `<text x="${String(width - right)}" y="${String(y)}" class="legend" text-anchor="end">y: requests per ${String(bucketMs / 1000)} s</text>`,
  ];
}

export function renderChart(title: string, panels: readonly ChartPanel[]): string {
  const spanMs = Math.max(1, ...panels.map((p) => Math.max(p.rolloutToMs, ...p.buckets.map((b) => b.startMs + p.bucketMs))));
  const maxPerBucket = Math.max(1, ...panels.flatMap((p) => p.buckets.map((b) => b.ok + b.failed)));
  const height = top + panels.length * panelHeight + 30;
  const body = panels.flatMap((p, i) => panel(p, top + i * panelHeight, spanMs, maxPerBucket));
  const ticks: string[] = [];
  const stepS = spanMs > 60_000 ? 10 : 5;
  for (let s = 0; s * 1000 <= spanMs; s += stepS) {
    const tx = left + ((s * 1000) / spanMs) * (width - left - right);
    ticks.push(`<text x="${fmt(tx)}" y="${String(height - 12)}" class="tick">${String(s)} s</text>`);
  }
  const figures = panels.flatMap((p) => (p.figures === undefined ? [] : [p.figures]));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" font-family="sans-serif">`,
    ...(figures.length === 0 ? [] : [`<desc id="figures">${escapeXml(JSON.stringify(figures))}</desc>`]),
    "<style>.label{font-size:13px;fill:#222}.title{font-size:15px;font-weight:bold;fill:#222}.tick{font-size:11px;fill:#555;text-anchor:middle}" +
      ".ytick{font-size:10px;fill:#555;text-anchor:end}.legend{font-size:12px;fill:#333}.band{font-size:10px;fill:#7a5c00}" +
      ".ok{fill:#9aa5b1}.failed{fill:#d62728}.rollout{fill:#f2b600;fill-opacity:0.22;stroke:#c99700;stroke-width:1;stroke-dasharray:4 2}.axis{stroke:#555;stroke-width:1}</style>",
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${String(left)}" y="22" class="title">${escapeXml(title)}</text>`,
    ...legend(panels[0]?.bucketMs ?? 500),
    ...body,
    ...ticks,
    "</svg>",
    "",
  ].join("\n");
}

/** The figures a chart carries (renderChart's <desc>), or undefined when it has none. */
export function chartFigures(svg: string): Record<string, string>[] | undefined {
  const match = /<desc id="figures">([^<]*)<\/desc>/.exec(svg);
  if (match?.[1] === undefined) return undefined;
  const text = match[1].replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
  return JSON.parse(text) as Record<string, string>[];
}
