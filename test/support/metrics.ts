// Reading the controller's /metrics (Prometheus text exposition) in tests, benches and the simulation.

/**
 * The sum of a metric's samples; `name` may carry its whole label set
 * (`lameduck_x_total{reason="y"}` is that series only). 0 when none.
 */
export function metricSum(exposition: string, name: string): number {
  let sum = 0;
  for (const line of exposition.split("\n")) {
    if (line.startsWith(`${name} `) || (!name.includes("{") && line.startsWith(`${name}{`))) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
