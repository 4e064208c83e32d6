// Durations as users write them in flags and annotations, and as the hook accepts them:
// "15s", "1500ms", "2m", "1h", or a bare number of seconds. Kept identical to the hook's parser so
// that a value the webhook accepts is one the hook accepts too.

const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds, or an error message naming what is wrong. */
export type DurationResult = { ok: true; ms: number } | { ok: false; error: string };

const pattern = /^(\d{1,9})(ms|s|m|h)?$/;

export function parseDuration(text: string): DurationResult {
  const match = pattern.exec(text.trim());
  if (match === null) {
    return { ok: false, error: `"${text}" is not a duration (use e.g. 15s, 1500ms, 2m or a number of seconds)` };
  }
  const [, digits = "", unit = "s"] = match;
  const ms = Number(digits) * units[unit as keyof typeof units];
  if (!Number.isSafeInteger(ms) || ms > 24 * 3_600_000) {
    return { ok: false, error: `"${text}" is longer than 24h` };
  }
  return { ok: true, ms };
}

/** The shortest exact rendering, in the form the hook's command line uses: 30s, 1500ms. */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  return `${ms / 1000}s`;
}
