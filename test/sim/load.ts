// The load generator: a steady request rate, alternating between requests on a fresh connection
// (`Connection: close`, like many short-lived clients) and requests on pooled keep-alive connections
// (like a Go service or a browser talking to the Service). Every request is recorded with its start
// time, latency and outcome, so failures can be counted and drawn over time.
import { makeHttpClient, type FailureKind, type Outcome } from "./httpclient.ts";

export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  readonly rps: number;
  /** Share of requests sent on pooled keep-alive connections, 0..1. */
  readonly keepAliveShare: number;
  readonly timeoutMs: number;
  readonly now?: () => number;
}

export interface RequestRecord {
  /** Milliseconds since the load started. */
  readonly atMs: number;
  readonly latencyMs: number;
  readonly ok: boolean;
  readonly kind?: FailureKind;
  readonly retried: boolean;
}

export interface Load {
  readonly startedAt: number;
  records(): readonly RequestRecord[];
  stop(): Promise<readonly RequestRecord[]>;
}

const tickMs = 5;
// A stalled event loop must not turn into a burst: at most this many requests catch up per tick.
const maxCatchUp = 20;

export function startLoad(options: LoadOptions): Load {
  const now = options.now ?? (() => performance.now());
  const client = makeHttpClient({ host: options.host, port: options.port, timeoutMs: options.timeoutMs, maxIdle: 4 });
  const startedAt = now();
  const records: RequestRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  const interval = 1000 / options.rps;
  let issued = 0;
  let keepAliveCredit = 0;
  const issue = (): void => {
    keepAliveCredit += options.keepAliveShare;
    const keepAlive = keepAliveCredit >= 1;
    if (keepAlive) keepAliveCredit -= 1;
    const begin = now();
    const p = client.get("/", keepAlive).then((o: Outcome) => {
      records.push({
        atMs: begin - startedAt,
        latencyMs: now() - begin,
        ok: o.ok,
        ...(o.ok ? {} : { kind: o.kind }),
        retried: o.retried,
      });
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const timer = setInterval(() => {
    const due = Math.floor((now() - startedAt) / interval) + 1;
    for (let i = 0; issued < due && i < maxCatchUp; i++, issued++) issue();
    issued = Math.max(issued, due - maxCatchUp);
  }, tickMs);
  return {
    startedAt,
    records: () => records,
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      client.close();
      return records;
    },
  };
}

export interface LoadSummary {
  readonly requests: number;
  readonly failed: number;
  readonly retried: number;
  readonly failuresByKind: Readonly<Partial<Record<FailureKind, number>>>;
  readonly p99LatencyMs: number;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? 0;
}

export function summarize(records: readonly RequestRecord[]): LoadSummary {
  const failuresByKind: Partial<Record<FailureKind, number>> = {};
  let failed = 0;
  for (const r of records) {
    if (r.ok || !r.kind) continue;
    failed++;
    failuresByKind[r.kind] = (failuresByKind[r.kind] ?? 0) + 1;
  }
  return {
    requests: records.length,
    failed,
    retried: records.filter((r) => r.retried).length,
    failuresByKind,
    p99LatencyMs: percentile(records.map((r) => r.latencyMs), 99),
  };
}

export interface Bucket {
  readonly startMs: number;
  readonly ok: number;
  readonly failed: number;
}

export function bucketize(records: readonly RequestRecord[], bucketMs: number, fromMs: number, toMs: number): Bucket[] {
  const count = Math.max(0, Math.ceil((toMs - fromMs) / bucketMs));
  const buckets = Array.from({ length: count }, (_, i) => ({ startMs: fromMs + i * bucketMs, ok: 0, failed: 0 }));
  for (const r of records) {
    const b = buckets[Math.floor((r.atMs - fromMs) / bucketMs)];
    if (!b) continue;
    if (r.ok) b.ok++;
    else b.failed++;
  }
  return buckets;
}
