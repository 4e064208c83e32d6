// The one retry backoff of the process: informer restarts, the API server version, the distributor's
// per-namespace retries and the webhook's start all wait base·2^attempt, capped. Retries that many
// replicas or informers could make in step (after an API server restart) add jitter.

/**
 * Delay before retry number `attempt` (0-based): baseMs·2^attempt capped at maxMs; with `random`
 * (in [0, 1)), scaled into [0.5, 1) of that so that retries started together spread out.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random?: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return random === undefined ? ceiling : Math.round(ceiling * (0.5 + random() / 2));
}
