// Talking to the cluster from an operator's machine: API calls whose failures are values (a 404 is
// an answer; a 403 means the operator's account may not look there). Which kubeconfig applies is
// ../apiserver.ts's business.
import { ApiException } from "@kubernetes/client-node";

export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly status: number | undefined; readonly error: string };

export async function attempt<T>(what: string, call: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    const status = err instanceof ApiException ? err.code : undefined;
    const reason = status === 404 ? "not found" : status === 403 ? "forbidden for this kubeconfig's user" : err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err);
    return { ok: false, status, error: `${what}: ${reason}` };
  }
}

/** The value, or undefined when the object does not exist; other failures are thrown. */
export async function readOptional<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
  const read = await attempt(what, call);
  if (read.ok) return read.value;
  if (read.status === 404) return undefined;
  throw new Error(read.error);
}
