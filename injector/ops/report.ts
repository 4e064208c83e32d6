// What `lameduck check` reports: one line per finding, PASS, WARN or FAIL, in the order the checks ran.
export const Level = { pass: "PASS", warn: "WARN", fail: "FAIL" } as const;
export type Level = (typeof Level)[keyof typeof Level];

export interface Finding {
  readonly level: Level;
  /** What was checked, e.g. "webhook", "oracle". */
  readonly area: string;
  readonly message: string;
  /** Further lines: the namespaces concerned, how to fix it. */
  readonly details?: readonly string[];
}

export const pass = (area: string, message: string, details?: readonly string[]): Finding => finding(Level.pass, area, message, details);
export const warn = (area: string, message: string, details?: readonly string[]): Finding => finding(Level.warn, area, message, details);
export const fail = (area: string, message: string, details?: readonly string[]): Finding => finding(Level.fail, area, message, details);

function finding(level: Level, area: string, message: string, details: readonly string[] | undefined): Finding {
  return details === undefined || details.length === 0 ? { level, area, message } : { level, area, message, details };
}

/** At most `limit` items, then how many more: a report stays readable on a cluster with 2,000 namespaces. */
export function listed(items: readonly string[], limit = 10): string {
  const shown = items.slice(0, limit).join(", ");
  return items.length > limit ? `${shown} and ${items.length - limit} more` : shown;
}

export function formatReport(findings: readonly Finding[]): string {
  const width = Math.max(0, ...findings.map((f) => f.area.length));
  const lines = findings.flatMap((f) => [`${f.level}  ${f.area.padEnd(width)}  ${f.message}`, ...(f.details ?? []).map((d) => `      ${" ".repeat(width)}  ${d}`)]);
  const count = (level: Level): number => findings.filter((f) => f.level === level).length;
  lines.push("", `${count(Level.pass)} passed, ${count(Level.warn)} warnings, ${count(Level.fail)} failed`);
  return `${lines.join("\n")}\n`;
}

/** 0 when nothing failed, 1 otherwise: warnings do not fail a preflight. */
export function exitCode(findings: readonly Finding[]): 0 | 1 {
  return findings.some((f) => f.level === Level.fail) ? 1 : 0;
}
