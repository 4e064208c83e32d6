// Wiring of the admission path for `lameduck run`: metrics, the reviewer, the certificate source and
// the HTTPS server, started together and stopped together.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { RunConfig } from "../config.ts";
import type { ClusterFacts } from "../cluster-facts.ts";
import type { Logger } from "../log.ts";
import { servingNames } from "../tls/certs.ts";
import { kubeSecretStore } from "../tls/secret.ts";
import { makeFileCertificateSource, makeSecretCertificateSource, type CertificateSource } from "../tls/source.ts";
import { watchSecret } from "../tls/watch.ts";
import { kubeWebhookConfigStore } from "../tls/webhookconfig.ts";
import { makeAdmissionMetrics } from "./metrics.ts";
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
}

export interface Admission {
  readonly port: number;
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

export async function startAdmission(deps: AdmissionDeps): Promise<Admission> {
  const logger = deps.logger.child({ component: "admission" });
  const metrics = makeAdmissionMetrics(deps.registry);
  const review = makeReviewer({ facts: deps.facts, policy: deps.config, logger, metrics, isReady: deps.isReady });
  const certificates = certificateSource({ ...deps, logger });
  const tls = await certificates.start();
  const server = makeWebhookServer({ tls, review, metrics, logger });
  certificates.onChange((next) => { server.setSecureContext({ cert: next.cert, key: next.key, minVersion: "TLSv1.2" }); });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(deps.config.webhookPort, deps.config.bindAddress, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    certificates.stop();
    throw new Error(`listening on ${deps.config.bindAddress}:${deps.config.webhookPort} for the webhook: ${String(err)}`, { cause: err });
  }
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : deps.config.webhookPort;
  logger.info({ port, path: "/mutate" }, "admission webhook listening");
  return {
    port,
    async close() {
      certificates.stop();
      const closed = new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
      // Reviews in flight are answered; kept-alive connections are closed as soon as they are idle.
      server.closeIdleConnections();
      const idle = setInterval(() => { server.closeIdleConnections(); }, 100);
      const deadline = setTimeout(() => { server.closeAllConnections(); }, webhookDrainMs);
      await closed;
      clearInterval(idle);
      clearTimeout(deadline);
    },
  };
}
