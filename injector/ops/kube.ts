// Talking to the cluster from an operator's machine: the kubeconfig, and API calls whose failures are
// values (a 404 is an answer; a 403 means the operator's account may not look there).
import { ApiException, KubeConfig } from "@kubernetes/client-node";

export interface KubeOptions {
  /** kubeconfig file; undefined: client-node's defaults ($KUBECONFIG, ~/.kube/config, in-cluster). */
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
}

export function loadKubeConfig(options: KubeOptions): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig === undefined) kc.loadFromDefault();
  else kc.loadFromFile(options.kubeconfig);
  if (options.context !== undefined) kc.setCurrentContext(options.context);
  return kc;
}

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
