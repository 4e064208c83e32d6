// A watch on the one Secret holding the webhook certificate, so that a renewal written by another
// replica is served here within moments rather than at the next periodic check.
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../log.ts";

export function watchSecret(kc: KubeConfig, namespace: string, name: string, onChange: () => void, logger: Logger, restartDelayMs = 5000): () => void {
  const watch = new Watch(kc);
  let stopped = false;
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  const start = (): void => {
    if (stopped) return;
    const restart = (err?: unknown): void => {
      if (stopped) return;
      if (err !== undefined && err !== null) logger.debug({ err }, "webhook certificate Secret watch ended; restarting");
      timer = setTimeout(start, restartDelayMs);
      timer.unref();
    };
    watch
      .watch(
        `/api/v1/namespaces/${namespace}/secrets`,
        { fieldSelector: `metadata.name=${name}` },
        (_type: string, obj: unknown) => {
          const meta: unknown = typeof obj === "object" && obj !== null && "metadata" in obj ? obj.metadata : undefined;
          if (typeof meta === "object" && meta !== null && "name" in meta && meta.name === name) onChange();
        },
        (err: unknown) => { restart(err); },
      )
      .then((c) => {
        controller = c;
        if (stopped) c.abort();
      })
      .catch((err: unknown) => { restart(err); });
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
  };
}
