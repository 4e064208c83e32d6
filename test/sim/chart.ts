// The rollout chart as a plain SVG string, one panel per scenario: requests per time bucket as bars
// (answered in grey, failed in red) over the rollout's span (shaded). No dependency: a few rects and
// text elements are all a README image needs.
import type { Bucket } from "./load.ts";

export interface ChartPanel {
  readonly label: string;
  readonly bucketMs: number;
  readonly buckets: readonly Bucket[];
  readonly rolloutFromMs: number;
  readonly rolloutToMs: number;
}

const width = 860;
const left = 56;
const right = 16;
const panelHeight = 110;
const plotHeight = 70;
const top = 40;

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

const fmt = (n: number): string => String(Math.round(n * 10) / 10);

function panel(p: ChartPanel, y0: number, spanMs: number, maxPerBucket: number): string[] {
  const plotWidth = width - left - right;
  const x = (ms: number): number => left + (ms / spanMs) * plotWidth;
  const h = (n: number): number => (n / maxPerBucket) * plotHeight;
  const base = y0 + 20 + plotHeight;
  const failed = p.buckets.reduce((sum, b) => sum + b.failed, 0);
  const out = [
    `<text x="${String(left)}" y="${fmt(y0 + 14)}" class="label">${escapeXml(p.label)} — ${String(failed)} failed</text>`,
    `<rect x="${fmt(x(p.rolloutFromMs))}" y="${fmt(base - plotHeight)}" width="${fmt(Math.max(0, x(p.rolloutToMs) - x(p.rolloutFromMs)))}" height="${String(plotHeight)}" class="rollout"/>`,
  ];
  const barWidth = Math.max(1, (p.bucketMs / spanMs) * plotWidth - 1);
  for (const b of p.buckets) {
    const bx = fmt(x(b.startMs));
    if (b.ok > 0) out.push(`<rect x="${bx}" y="${fmt(base - h(b.ok))}" width="${fmt(barWidth)}" height="${fmt(h(b.ok))}" class="ok"/>`);
    if (b.failed > 0) out.push(`<rect x="${bx}" y="${fmt(base - h(b.ok) - h(b.failed))}" width="${fmt(barWidth)}" height="${fmt(h(b.failed))}" class="failed"/>`);
  }
  out.push(`<line x1="${String(left)}" y1="${fmt(base)}" x2="${String(width - right)}" y2="${fmt(base)}" class="axis"/>`);
  return out;
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
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" viewBox="0 0 ${String(width)} ${String(height)}" font-family="sans-serif">`,
    "<style>.label{font-size:13px;fill:#222}.title{font-size:15px;font-weight:bold;fill:#222}.tick{font-size:11px;fill:#555;text-anchor:middle}" +
      ".ok{fill:#9aa5b1}.failed{fill:#d62728}.rollout{fill:#fff3c4}.axis{stroke:#555;stroke-width:1}</style>",
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${String(left)}" y="22" class="title">${escapeXml(title)}</text>`,
    ...body,
    ...ticks,
    "</svg>",
    "",
  ].join("\n");
}
