import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeWebhookServer } from "../../injector/admission/server.ts";
import { silentLogger } from "../../injector/log.ts";
import { Lifetime, issueServing, parseBundle, servingNames } from "../../injector/tls/certs.ts";
import { SecretKey, ensureCertificates } from "../../injector/tls/secret.ts";
import { makeFileCertificateSource, makeSecretCertificateSource, type CertificateSource } from "../../injector/tls/source.ts";
import { caBundlePatch, syncCaBundle } from "../../injector/tls/webhookconfig.ts";
import { makeTestReviewer } from "../support/admission.ts";
import { httpsRequest, servedFingerprint, testPki } from "../support/https.ts";
import { memorySecretStore, memoryWebhookConfigStore } from "../support/memory-stores.ts";

const dayMs = 86_400_000;
const names = { dns: ["lameduck-webhook.lameduck-system.svc", "lameduck-webhook.lameduck-system.svc.cluster.local"], ips: ["127.0.0.1"] };

function secretData(store: ReturnType<typeof memorySecretStore>): Readonly<Record<string, string>> {
  if (store.current === undefined) throw new Error("no Secret");
  return store.current.data;
}

describe("serving certificate names", () => {
  it("are the Service's DNS names plus the --webhook-url host, as an IP SAN for an IP", () => {
    expect(servingNames("lameduck-webhook", "lameduck-system", undefined)).toEqual({
      dns: ["lameduck-webhook.lameduck-system.svc", "lameduck-webhook.lameduck-system.svc.cluster.local"],
      ips: [],
    });
    expect(servingNames("w", "ns", "https://10.0.0.5:8443/mutate").ips).toEqual(["10.0.0.5"]);
    expect(servingNames("w", "ns", "https://[::1]:8443/mutate").ips).toEqual(["::1"]);
    expect(servingNames("w", "ns", "https://laptop.example:8443/mutate").dns).toContain("laptop.example");
  });
});

describe("the certificate Secret", () => {
  it("is created once when two replicas start together, and both serve the winner's certificate", async () => {
    const store = memorySecretStore();
    const now = new Date();
    const [a, b] = await Promise.all([ensureCertificates(store, names, now, silentLogger), ensureCertificates(store, names, now, silentLogger)]);
    expect(store.writes).toBe(1);
    expect(a).toEqual(b);
    expect(Object.keys(secretData(store)).sort()).toEqual([SecretKey.caCert, SecretKey.caKey, SecretKey.cert, SecretKey.key].sort());
  });

  it("is left alone while the certificate is good", async () => {
    const store = memorySecretStore();
    const now = new Date();
    const first = await ensureCertificates(store, names, now, silentLogger);
    const again = await ensureCertificates(store, names, new Date(now.getTime() + 300 * dayMs), silentLogger);
    expect(again).toEqual(first);
    expect(store.writes).toBe(1);
  });

  it("renews the serving certificate when fewer than 30 days remain, keeping the CA", async () => {
    const store = memorySecretStore();
    const now = new Date();
    const first = await ensureCertificates(store, names, now, silentLogger);
    const later = new Date(now.getTime() + (Lifetime.servingDays - Lifetime.servingRenewDays + 1) * dayMs);
    const renewed = await ensureCertificates(store, names, later, silentLogger);
    expect(renewed.cert).not.toBe(first.cert);
    expect(renewed.caBundle).toBe(first.caBundle);
    expect(store.writes).toBe(2);
  });

  it("reissues the serving certificate when the names change", async () => {
    const store = memorySecretStore();
    const now = new Date();
    const first = await ensureCertificates(store, names, now, silentLogger);
    const renamed = await ensureCertificates(store, { ...names, ips: [] }, now, silentLogger);
    expect(renamed.cert).not.toBe(first.cert);
    expect(renamed.caBundle).toBe(first.caBundle);
  });

  it("renews the CA a year before it expires, trusting old and new until the old one expires", async () => {
    const store = memorySecretStore();
    const now = new Date();
    const first = await ensureCertificates(store, names, now, silentLogger);
    const later = new Date(now.getTime() + (Lifetime.caDays - 300) * dayMs);
    const renewed = await ensureCertificates(store, names, later, silentLogger);
    const bundle = parseBundle(renewed.caBundle);
    expect(bundle).toHaveLength(2);
    expect(renewed.caBundle.endsWith(first.caBundle)).toBe(true);
  });

  it("replaces a Secret whose contents are not certificates", async () => {
    const store = memorySecretStore();
    await store.create({ [SecretKey.caCert]: "garbage", [SecretKey.cert]: "garbage" });
    const bundle = await ensureCertificates(store, names, new Date(), silentLogger);
    expect(parseBundle(bundle.caBundle)).toHaveLength(1);
    expect(store.writes).toBe(2);
  });
});

describe("the webhook configuration's caBundle", () => {
  const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const b64 = Buffer.from(ca).toString("base64");

  it("is set on every webhook entry, behind a resourceVersion test", () => {
    const ops = caBundlePatch({ resourceVersion: "7", webhooks: [{ clientConfig: { service: { name: "w" } } }, { clientConfig: { caBundle: "old" } }] }, ca, undefined);
    expect(ops[0]).toEqual({ op: "test", path: "/metadata/resourceVersion", value: "7" });
    expect(ops.slice(1).map((o) => `${o.op} ${o.path}`).sort()).toEqual(["add /webhooks/0/clientConfig/caBundle", "replace /webhooks/1/clientConfig/caBundle"]);
  });

  it("with --webhook-url, points every entry at the URL instead of the Service", () => {
    const ops = caBundlePatch({ resourceVersion: "1", webhooks: [{ clientConfig: { service: { name: "w" } } }] }, ca, "https://127.0.0.1:8443/mutate");
    expect(ops.slice(1).map((o) => `${o.op} ${o.path}`).sort()).toEqual(["add /webhooks/0/clientConfig/caBundle", "add /webhooks/0/clientConfig/url", "remove /webhooks/0/clientConfig/service"]);
  });

  it("is not patched when it is right already", async () => {
    const store = memoryWebhookConfigStore({ resourceVersion: "1", webhooks: [{ clientConfig: { caBundle: b64 } }] });
    expect(await syncCaBundle(store, ca, undefined)).toBe("unchanged");
    expect(await syncCaBundle(memoryWebhookConfigStore(undefined), ca, undefined)).toBe("not-found");
  });

  it("is patched in the stored configuration", async () => {
    const store = memoryWebhookConfigStore({ resourceVersion: "1", webhooks: [{ clientConfig: { service: {} } }, { clientConfig: {} }] });
    expect(await syncCaBundle(store, ca, undefined)).toBe("patched");
    expect(store.view?.webhooks.map((w) => w.clientConfig.caBundle)).toEqual([b64, b64]);
  });
});

describe("certificate reload without restart", () => {
  let server: Server | undefined;
  let source: CertificateSource | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    source?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (server !== undefined) {
      const s = server;
      await new Promise<void>((resolve) => {
        s.close(() => { resolve(); });
        s.closeAllConnections();
      });
    }
    server = undefined;
    source = undefined;
    dir = undefined;
  });

  async function serve(s: CertificateSource): Promise<number> {
    const tls = await s.start();
    const { review, metrics } = makeTestReviewer();
    const srv = makeWebhookServer({ tls, review, metrics, logger: silentLogger });
    s.onChange((next) => { srv.setSecureContext({ cert: next.cert, key: next.key }); });
    server = srv;
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    return (srv.address() as AddressInfo).port;
  }

  it("serves a renewed Secret certificate on new connections, verified against the CA from the Secret", async () => {
    const secrets = memorySecretStore();
    const config = memoryWebhookConfigStore({ resourceVersion: "1", webhooks: [{ clientConfig: {} }] });
    // The certificate was issued 340 days ago: 25 days left, due for renewal, still valid now.
    let now = new Date(Date.now() - 340 * dayMs);
    source = makeSecretCertificateSource({ secrets, webhookConfig: config, names, webhookUrl: undefined, logger: silentLogger, now: () => now });
    const port = await serve(source);
    const ca = secretData(secrets)[SecretKey.caCert] ?? "";
    expect(config.view?.webhooks[0]?.clientConfig.caBundle).toBe(Buffer.from(ca).toString("base64"));
    const before = await servedFingerprint(port, ca);
    expect((await httpsRequest(port, undefined, { ca, method: "GET", path: "/healthz" })).status).toBe(200);

    now = new Date();
    await source.check();
    const after = await servedFingerprint(port, ca);
    expect(after).not.toBe(before);
    expect(secretData(secrets)[SecretKey.caCert]).toBe(ca);
  });

  it("serves a certificate written by another replica when the Secret changes", async () => {
    const secrets = memorySecretStore();
    const config = memoryWebhookConfigStore({ resourceVersion: "1", webhooks: [{ clientConfig: {} }] });
    let onSecretChange: () => void = () => undefined;
    source = makeSecretCertificateSource({
      secrets, webhookConfig: config, names, webhookUrl: undefined, logger: silentLogger,
      watchSecret: (onChange) => {
        onSecretChange = onChange;
        return () => undefined;
      },
    });
    const port = await serve(source);
    const ca = secretData(secrets)[SecretKey.caCert] ?? "";
    const before = await servedFingerprint(port, ca);
    // The other replica issues a new serving certificate from the same CA and stores it.
    const stored = secrets.current;
    if (stored === undefined) throw new Error("no Secret");
    const issued = await issueServing({ cert: ca, key: stored.data[SecretKey.caKey] ?? "" }, names, new Date());
    expect(await secrets.replace({ ...stored.data, [SecretKey.cert]: issued.cert, [SecretKey.key]: issued.key }, stored.resourceVersion)).not.toBe("conflict");
    onSecretChange();
    await source.check();
    expect(await servedFingerprint(port, ca)).not.toBe(before);
  });

  it("serves new certificate files once they change, and keeps the old pair while they do not match", async () => {
    dir = mkdtempSync(join(tmpdir(), "lameduck-tls-"));
    const pki = await testPki();
    const certFile = join(dir, "tls.crt");
    const keyFile = join(dir, "tls.key");
    writeFileSync(certFile, pki.serving.cert);
    writeFileSync(keyFile, pki.serving.key);
    source = makeFileCertificateSource({ certFile, keyFile, logger: silentLogger, pollMs: 3_600_000 });
    const port = await serve(source);
    const before = await servedFingerprint(port, pki.ca.cert);

    const next = await testPki();
    writeFileSync(certFile, next.serving.cert); // the key is not there yet: a half-done rotation
    await source.check();
    expect(await servedFingerprint(port, pki.ca.cert)).toBe(before);

    writeFileSync(keyFile, next.serving.key);
    await source.check();
    const after = await servedFingerprint(port, next.ca.cert);
    expect(after).not.toBe(before);
  });
});
