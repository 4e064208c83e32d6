// Asks the drain oracle one question the way a hook does (GET /v1/pods/<uid>/drain?wait=0), to show it
// answers. From a laptop the oracle's ClusterIP is usually unreachable; that is reported as such.
import { request } from "node:http";
import { fail, pass, warn, type Finding } from "./report.ts";

const states = new Set(["serving", "drained", "unselected"]);

export type ProbeResult = { readonly ok: true; readonly status: number; readonly body: string } | { readonly ok: false; readonly error: string };

export function httpGet(hostPort: string, path: string, timeoutMs: number): Promise<ProbeResult> {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d+)$/.exec(hostPort);
  if (m === null) return Promise.resolve({ ok: false, error: `"${hostPort}" is not HOST:PORT` });
  const host = (m[1] ?? "").replace(/^\[|\]$/g, "");
  return new Promise((resolve) => {
    const req = request({ host, port: Number(m[2]), path, method: "GET", timeout: timeoutMs, headers: { Connection: "close" } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        // An oracle answer is one short line; anything long is not the oracle.
        if (size <= 4096) chunks.push(c);
      });
      res.on("end", () => { resolve({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }); });
      res.on("error", (err) => { resolve({ ok: false, error: err.message }); });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => { resolve({ ok: false, error: err.message }); });
    req.end();
  });
}

export interface OracleProbe {
  /** HOST:PORT asked; undefined when the Service has no ClusterIP. */
  readonly address: string | undefined;
  /** The address came from --oracle: the operator says it is reachable, so silence is a failure. */
  readonly explicit: boolean;
  /** UID asked about: a controller pod (expected "serving"), or a made-up one ("unselected"). */
  readonly uid: string;
  readonly timeoutMs: number;
}

export async function probeOracle(probe: OracleProbe, get: typeof httpGet = httpGet): Promise<Finding> {
  const area = "oracle";
  if (probe.address === undefined) return fail(area, "the oracle Service has no ClusterIP: hooks cannot be told where to ask");
  const result = await get(probe.address, `/v1/pods/${encodeURIComponent(probe.uid)}/drain?wait=0`, probe.timeoutMs);
  if (!result.ok) {
    if (probe.explicit) return fail(area, `oracle at ${probe.address} did not answer: ${result.error}`);
    return warn(area, `oracle at ${probe.address} is unreachable from here (${result.error}); a ClusterIP is usually only reachable inside the cluster`, [
      "to check it from here: kubectl -n lameduck-system port-forward svc/lameduck-oracle 8080 & lameduck check --oracle=127.0.0.1:8080",
    ]);
  }
  const state = result.body.trim().split(/\s+/)[0] ?? "";
  if (result.status === 200 && states.has(state)) return pass(area, `oracle at ${probe.address} answers: ${result.body.trim()}`);
  // The oracle answers 200 with a state, or 503 when not synced or too busy. Anything else at a
  // ClusterIP dialled from outside the cluster is some other server on that route (a VPN, a proxy).
  const oracle503 = result.status === 503 && /^(not ready|busy)\b/.test(result.body);
  if (!probe.explicit && !oracle503) {
    return warn(area, `no oracle answer at ${probe.address} from here (HTTP ${result.status}); a ClusterIP is usually only reachable inside the cluster`, [
      "to check it from here: kubectl -n lameduck-system port-forward svc/lameduck-oracle 8080 & lameduck check --oracle=127.0.0.1:8080",
    ]);
  }
  return fail(area, `oracle at ${probe.address} answered ${result.status} "${result.body.trim().slice(0, 120)}"`, oracle503 ? ["503: its EndpointSlice cache is not synced yet, or too many hooks are waiting"] : []);
}
