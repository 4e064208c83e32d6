// The admission webhook of `lameduck run`: metrics, the reviewer, the certificate source and the HTTPS
// server, started together and stopped together. Setting up the certificate needs the API (its Secret,
// the webhook configuration's caBundle), which may not be there yet (the namespace is missing, RBAC is
// not applied yet): a failed start is retried with backoff for as long as it takes, and until the
// webhook listens with its certificate `unready()` says why it does not.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Server } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import type { Registry } from "prom-client";
import { backoffDelay } from "../backoff.ts";
import type { ClusterFacts } from "../cluster-facts.ts";
import type { RunConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { servingNames } from "../tls/certs.ts";
import { kubeSecretStore } from "../tls/secret.ts";
import { makeFileCertificateSource, makeSecretCertificateSource, type CertificateSource } from "../tls/source.ts";
import { watchSecret } from "../tls/watch.ts";
import { kubeWebhookConfigStore } from "../tls/webhookconfig.ts";
import { makeAdmissionMetrics, type AdmissionMetrics } from "./metrics.ts";
import { makeReviewer } from "./review.ts";
import { makeWebhookServer } from "./server.ts";

export interface AdmissionDeps {
  readonly config: RunConfig;
  readonly facts: ClusterFacts;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly kc: KubeConfig;
  /** True once the informer caches are synced; until then pods are admitted without injection. */
  readonly isReady: () => boolean;
  /** Waits between start attempts; default a real timer (tests shorten it). */
  readonly delay?: (ms: number) => Promise<void>;
}

export interface Admission {
  /** Resolves with the port once the webhook listens; with undefined if it is closed before. */
  listening(): Promise<number | undefined>;
  /** The port it listens on, or undefined while it is starting. */
  port(): number | undefined;
  /** Why the webhook does not serve yet, or undefined once it listens with its certificate. */
  unready(): string | undefined;
  close(): Promise<void>;
}

export function certificateSource(deps: Pick<AdmissionDeps, "config" | "logger" | "kc">): CertificateSource {
  const { config, logger, kc } = deps;
  if (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
    return makeFileCertificateSource({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, logger });
  }
  return makeSecretCertificateSource({
    secrets: kubeSecretStore(kc, config.namespace, config.tlsSecret),
    webhookConfig: kubeWebhookConfigStore(kc, config.webhookConfigName),
    names: servingNames(config.webhookService, config.namespace, config.webhookUrl),
    webhookUrl: config.webhookUrl,
    logger,
    watchSecret: (onChange) => watchSecret(kc, config.namespace, config.tlsSecret, onChange, logger),
  });
}

/**
 * How long closing waits for reviews in flight. The API server stops waiting for a webhook after its
 * timeoutSeconds (5 in manifests/base/webhook.yaml); a review itself is answered from memory in
 * milliseconds.
 */
export const webhookDrainMs = 5_000;
const retryBaseMs = 500;
const retryMaxMs = 30_000;

interface Serving {
  readonly server: Server;
  readonly certificates: CertificateSource;
  readonly port: number;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The Kubernetes Status message an API error in `err`'s cause chain carries (client-node ApiException). */
function statusMessage(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const body: unknown = (e as { body?: unknown }).body;
    if (typeof body !== "string") continue;
    try {
      const status: unknown = JSON.parse(body);
      if (typeof status === "object" && status !== null && "message" in status && typeof status.message === "string") return status.message;
    } catch {
      // not a Status
    }
  }
  return undefined;
}

/** One line for /readyz: client-node's errors run over several lines (headers, body). */
function summary(err: unknown): string {
  const first = message(err).split("\n")[0] ?? "";
  const status = statusMessage(err);
  return status === undefined ? first : `${first} (${status})`;
}

/** One attempt: the certificate, then the listener. Throws what failed, naming the step. */
async function serve(deps: AdmissionDeps, metrics: AdmissionMetrics, review: ReturnType<typeof makeReviewer>, logger: Logger): Promise<Serving> {
  const { config } = deps;
  const certificates = certificateSource({ ...deps, logger });
  let tls;
  try {
    tls = await certificates.start();
  } catch (err) {
    certificates.stop();
    throw new Error(`loading its certificate failed: ${message(err)}`, { cause: err });
  }
  const server = makeWebhookServer({ tls, review, metrics, logger });
  certificates.onChange((next) => { server.setSecureContext({ cert: next.cert, key: next.key, minVersion: "TLSv1.2" }); });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.webhookPort, config.bindAddress, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    certificates.stop();
    throw new Error(`listening on ${config.bindAddress}:${config.webhookPort} failed: ${message(err)}`, { cause: err });
  }
  const address = server.address();
  return { server, certificates, port: typeof address === "object" && address !== null ? address.port : config.webhookPort };
}

async function drain(serving: Serving): Promise<void> {
  const { server } = serving;
  serving.certificates.stop();
  const closed = new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
  // Reviews in flight are answered; kept-alive connections are closed as soon as they are idle.
  server.closeIdleConnections();
  const idle = setInterval(() => { server.closeIdleConnections(); }, 100);
  const deadline = setTimeout(() => { server.closeAllConnections(); }, webhookDrainMs);
  await closed;
  clearInterval(idle);
  clearTimeout(deadline);
}

/** Starts the webhook in the background, retrying until it listens or is closed. */
export function startAdmission(deps: AdmissionDeps): Admission {
  const logger = deps.logger.child({ component: "admission" });
  // Once, not per attempt: a failed attempt must not leave metrics registered twice.
  const metrics = makeAdmissionMetrics(deps.registry);
  const review = makeReviewer({ facts: deps.facts, policy: deps.config, logger, metrics, isReady: deps.isReady });
  const delay = deps.delay ?? ((ms: number) => sleep(ms, undefined, { ref: false }));
  let serving: Serving | undefined;
  let closed = false;
  // Read through a function: close() sets it while an attempt awaits.
  const isClosed = (): boolean => closed;
  let why = "starting";
  // Ends the wait between attempts at once when closed.
  let wake = (): void => undefined;
  const woken = new Promise<void>((resolve) => { wake = resolve; });

  const started = (async (): Promise<number | undefined> => {
    for (let attempt = 0; !isClosed(); attempt++) {
      try {
        const next = await serve(deps, metrics, review, logger);
        if (isClosed()) {
          await drain(next);
          return undefined;
        }
        serving = next;
        logger.info({ port: next.port, path: "/mutate" }, "admission webhook listening");
        return next.port;
      } catch (err) {
        const wait = backoffDelay(attempt, retryBaseMs, retryMaxMs, Math.random);
        why = `${summary(err)}; retrying`;
        logger.error({ err: message(err), retryInMs: wait }, "starting the admission webhook failed");
        await Promise.race([delay(wait), woken]);
      }
    }
    return undefined;
  })();

  return {
    listening: () => started,
    port: () => serving?.port,
    unready: () => (serving === undefined ? `webhook not serving: ${why}` : undefined),
    async close() {
      closed = true;
      wake();
      await started;
      if (serving !== undefined) await drain(serving);
    },
  };
}
