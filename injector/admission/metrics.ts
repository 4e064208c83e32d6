// The webhook's Prometheus metrics, registered on the Registry passed in (never the global one).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** What a review counts. */
export interface ReviewCounters {
  /** result: patched, skipped, guarded (patch withheld by the guard), error (failed open), bad-request. */
  readonly reviews: Counter<"result">;
  /** mode: wait, sleep (the hook's sleep) or native-sleep. */
  readonly injections: Counter<"mode">;
  readonly skips: Counter<"reason">;
  readonly patchRejected: Counter<"reason">;
}

export interface AdmissionMetrics extends ReviewCounters {
  readonly duration: Histogram;
  /** reason: body-budget (answered 503), connection-limit, handshake-timeout, idle-timeout (closed). */
  readonly refused: Counter<"reason">;
  readonly bodyBytesHeld: Gauge;
  readonly connections: Gauge;
}

export function makeAdmissionMetrics(registry: Registry): AdmissionMetrics {
  const registers = [registry];
  return {
    reviews: new Counter({ name: "lameduck_admission_reviews_total", help: "AdmissionReviews answered, by result.", labelNames: ["result"], registers }),
    injections: new Counter({ name: "lameduck_injections_total", help: "Pods patched with a preStop, by mode.", labelNames: ["mode"], registers }),
    skips: new Counter({ name: "lameduck_admission_skips_total", help: "Pods admitted without injection, by reason.", labelNames: ["reason"], registers }),
    patchRejected: new Counter({
      name: "lameduck_admission_patch_rejected_total",
      help: "Patches withheld because the patched pod would break an API rule, by rule.",
      labelNames: ["reason"],
      registers,
    }),
    duration: new Histogram({
      name: "lameduck_admission_review_duration_seconds",
      help: "Time from the first byte of an AdmissionReview to the answer.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    refused: new Counter({
      name: "lameduck_admission_refused_total",
      help: "Requests and connections the webhook refused or closed to stay within its limits, by reason.",
      labelNames: ["reason"],
      registers,
    }),
    bodyBytesHeld: new Gauge({ name: "lameduck_admission_body_bytes_held", help: "Request-body bytes the webhook holds right now, across all connections.", registers }),
    connections: new Gauge({ name: "lameduck_admission_connections", help: "Connections open to the webhook right now.", registers }),
  };
}
