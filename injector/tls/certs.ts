// The webhook's own small PKI: a CA (10 years) and an ECDSA P-256 serving certificate (1 year) with
// the Service's DNS names, made with @peculiar/x509 on Node's WebCrypto. The API server verifies the
// serving certificate against the CA in the webhook configuration's caBundle, by SAN only (Go ignores
// the common name).
import { isIP } from "node:net";
import { webcrypto } from "node:crypto";
import * as x509 from "./x509.ts";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
const keyAlgorithm = { name: "ECDSA", namedCurve: "P-256" } as const;
const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" } as const;
const dayMs = 24 * 3_600_000;

export const Lifetime = {
  caDays: 3650,
  servingDays: 365,
  /** Renew the serving certificate when fewer days than this remain. */
  servingRenewDays: 30,
  /** Renew the CA when fewer days than this remain (the old CA stays in the bundle until it expires). */
  caRenewDays: 365,
} as const;

export interface KeyPairPem {
  readonly cert: string;
  readonly key: string;
}

export interface SubjectNames {
  readonly dns: readonly string[];
  readonly ips: readonly string[];
}

/** The names a serving certificate needs: the Service's DNS names and the --webhook-url host. */
export function servingNames(service: string, namespace: string, webhookUrl: string | undefined): SubjectNames {
  const dns = [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
  const ips: string[] = [];
  if (webhookUrl !== undefined) {
    const host = new URL(webhookUrl).hostname.replace(/^\[(.*)\]$/, "$1");
    if (isIP(host) !== 0) ips.push(host);
    else if (!dns.includes(host)) dns.push(host);
  }
  return { dns, ips };
}

function pem(label: string, der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, label);
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"]);
}

async function exportKey(key: CryptoKey): Promise<string> {
  return pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", key));
}

async function importKey(keyPem: string): Promise<CryptoKey> {
  const [der] = x509.PemConverter.decode(keyPem);
  if (der === undefined) throw new Error("no PEM private key");
  return crypto.subtle.importKey("pkcs8", der, keyAlgorithm, true, ["sign"]);
}

function serial(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "7");
}

export async function createCa(now: Date, days: number = Lifetime.caDays): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=lameduck webhook CA ${now.toISOString().slice(0, 10)}`,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + days * dayMs),
      keys,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: cert.toString("pem"), key: await exportKey(keys.privateKey) };
}

export async function issueServing(ca: KeyPairPem, names: SubjectNames, now: Date, days: number = Lifetime.servingDays): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKey(ca.key);
  const keys = await generateKeys();
  const notAfter = new Date(Math.min(now.getTime() + days * dayMs, caCert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=${names.dns[0] ?? names.ips[0] ?? "lameduck-webhook"}`,
      issuer: caCert.subject,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([
          ...names.dns.map((value) => ({ type: "dns" as const, value })),
          ...names.ips.map((value) => ({ type: "ip" as const, value })),
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: cert.toString("pem"), key: await exportKey(keys.privateKey) };
}

/** Every certificate in a PEM bundle. */
export function parseBundle(bundle: string): x509.X509Certificate[] {
  return x509.PemConverter.decode(bundle).map((der) => new x509.X509Certificate(der));
}

function sanOf(cert: x509.X509Certificate): SubjectNames {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = ext?.names.toJSON() ?? [];
  return { dns: names.filter((n) => n.type === "dns").map((n) => n.value), ips: names.filter((n) => n.type === "ip").map((n) => n.value) };
}

function sameNames(a: SubjectNames, b: SubjectNames): boolean {
  const key = (n: SubjectNames): string => JSON.stringify([[...n.dns].sort(), [...n.ips].sort()]);
  return key(a) === key(b);
}

const remainingDays = (cert: x509.X509Certificate, now: Date): number => (cert.notAfter.getTime() - now.getTime()) / dayMs;

/** Why the CA must be replaced, or undefined while it is good. */
export function caRenewalReason(caPem: string, now: Date): string | undefined {
  const [ca] = parseBundle(caPem);
  if (ca === undefined) return "no CA certificate";
  if (remainingDays(ca, now) < Lifetime.caRenewDays) return `CA expires ${ca.notAfter.toISOString()}`;
  return undefined;
}

/** Why the serving certificate must be reissued, or undefined while it is good. */
export async function servingRenewalReason(serving: KeyPairPem, caPem: string, names: SubjectNames, now: Date): Promise<string | undefined> {
  const [cert] = parseBundle(serving.cert);
  const [ca] = parseBundle(caPem);
  if (cert === undefined || ca === undefined) return "no certificate";
  if (remainingDays(cert, now) < Lifetime.servingRenewDays) return `expires ${cert.notAfter.toISOString()}`;
  if (cert.notBefore.getTime() > now.getTime()) return "not valid yet";
  if (!sameNames(sanOf(cert), names)) return "names changed";
  if (!(await cert.verify({ publicKey: ca, signatureOnly: true }, crypto))) return "not signed by the current CA";
  return undefined;
}
