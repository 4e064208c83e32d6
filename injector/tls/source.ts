// Where the serving certificate comes from, and how a new one reaches the live HTTPS server
// (server.setSecureContext: new handshakes use it, open connections finish on the old one).
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import type { Logger } from "../log.ts";
import type { SubjectNames } from "./certs.ts";
import { ensureCertificates, type CertificateBundle, type SecretStore } from "./secret.ts";
import { syncCaBundle, type WebhookConfigStore } from "./webhookconfig.ts";

export interface ServingCertificate {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateSource {
  /** The certificate to serve; resolves once one exists. */
  start(): Promise<ServingCertificate>;
  /** Called with each new certificate after start. */
  onChange(listener: (certificate: ServingCertificate) => void): void;
  /** Looks again now (renewal due, Secret or files changed). Never rejects: failures are logged. */
  check(): Promise<void>;
  stop(): void;
}

/** Runs `work` one at a time; a call during a run schedules exactly one more run after it. */
function singleFlight(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let requests = 0;
  return () => {
    requests++;
    if (running !== undefined) return running;
    running = (async () => {
      for (;;) {
        const seen = requests;
        await work();
        if (requests === seen) break;
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
}

function makeEmitter(): { on: (l: (c: ServingCertificate) => void) => void; emit: (c: ServingCertificate) => void } {
  const listeners: ((c: ServingCertificate) => void)[] = [];
  return { on: (l) => void listeners.push(l), emit: (c) => { listeners.forEach((l) => { l(c); }); } };
}

export interface SecretSourceOptions {
  readonly secrets: SecretStore;
  readonly webhookConfig: WebhookConfigStore;
  readonly names: SubjectNames;
  readonly webhookUrl: string | undefined;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** How often to look for a due renewal besides the Secret watch (default 1 h). */
  readonly checkIntervalMs?: number;
  /** Starts a watch on the Secret calling back on every change; returns its stop function. */
  readonly watchSecret?: (onChange: () => void) => () => void;
}

/** Certificates managed in a Secret, the CA kept in the webhook configuration's caBundle. */
export function makeSecretCertificateSource(options: SecretSourceOptions): CertificateSource {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const emitter = makeEmitter();
  let current: CertificateBundle | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopWatch: (() => void) | undefined;
  let warnedMissingConfig = false;

  const syncBundle = async (caBundle: string): Promise<void> => {
    const result = await syncCaBundle(options.webhookConfig, caBundle, options.webhookUrl);
    if (result === "patched") logger.info("webhook configuration now trusts the webhook CA");
    if (result === "not-found" && !warnedMissingConfig) logger.warn("MutatingWebhookConfiguration not found; its caBundle will be set once it exists");
    warnedMissingConfig = result === "not-found";
  };

  const checkOnce = async (): Promise<void> => {
    try {
      const bundle = await ensureCertificates(options.secrets, options.names, now(), logger);
      const changed = current !== undefined && (bundle.cert !== current.cert || bundle.key !== current.key);
      current = bundle;
      if (changed) {
        logger.info("serving a new webhook certificate");
        emitter.emit({ cert: bundle.cert, key: bundle.key });
      }
      await syncBundle(bundle.caBundle);
    } catch (err) {
      logger.error({ err }, "checking the webhook certificate failed; will retry");
    }
  };
  const check = singleFlight(checkOnce);

  return {
    async start() {
      const bundle = await ensureCertificates(options.secrets, options.names, now(), logger);
      current = bundle;
      try {
        await syncBundle(bundle.caBundle);
      } catch (err) {
        logger.error({ err }, "setting the webhook configuration's caBundle failed; will retry");
      }
      timer = setInterval(() => void check(), options.checkIntervalMs ?? 3_600_000);
      timer.unref();
      stopWatch = options.watchSecret?.(() => void check());
      return { cert: bundle.cert, key: bundle.key };
    },
    onChange: emitter.on,
    check,
    stop() {
      clearInterval(timer);
      stopWatch?.();
    },
  };
}

export interface FileSourceOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly logger: Logger;
  /** How often to look at the files (default 10 s). Polling, because mounted Secrets change by symlink swap. */
  readonly pollMs?: number;
}

/** Certificates from files (e.g. cert-manager's Secret mounted as a volume); caBundle is someone else's. */
export function makeFileCertificateSource(options: FileSourceOptions): CertificateSource {
  const emitter = makeEmitter();
  let current: ServingCertificate | undefined;
  let timer: NodeJS.Timeout | undefined;
  const load = async (): Promise<ServingCertificate> => {
    const [cert, key] = await Promise.all([readFile(options.certFile, "utf8"), readFile(options.keyFile, "utf8")]);
    // Throws on a key that does not match the certificate (a half-written rotation): keep the old pair.
    createSecureContext({ cert, key });
    return { cert, key };
  };
  const check = singleFlight(async () => {
    try {
      const next = await load();
      if (current !== undefined && next.cert === current.cert && next.key === current.key) return;
      current = next;
      options.logger.info({ file: options.certFile }, "serving a new webhook certificate from file");
      emitter.emit(next);
    } catch (err) {
      options.logger.warn({ err, file: options.certFile }, "webhook certificate files unreadable; keeping the current certificate");
    }
  });
  return {
    async start() {
      current = await load();
      timer = setInterval(() => void check(), options.pollMs ?? 10_000);
      timer.unref();
      return current;
    },
    onChange: emitter.on,
    check,
    stop() {
      clearInterval(timer);
    },
  };
}
