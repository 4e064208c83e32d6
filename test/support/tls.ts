// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with @peculiar/x509, so
// tests exercise a real TLS handshake verified against a caBundle, as kube-apiserver does.
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

export interface TestPki {
  readonly caPem: string;
  /** The CA as a webhook's clientConfig.caBundle: base64 of the PEM. */
  readonly caBundle: string;
  readonly certPem: string;
  readonly keyPem: string;
}

const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export async function makeTestPki(hosts: { ips?: readonly string[]; dns?: readonly string[] } = {}): Promise<TestPki> {
  const crypto = webcrypto;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 3600_000);
  const caKeys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01", name: "CN=lameduck test CA", notBefore, notAfter, keys: caKeys, signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  }, crypto);
  const leafKeys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const names = [...(hosts.ips ?? ["127.0.0.1"]).map((value) => ({ type: "ip" as const, value })), ...(hosts.dns ?? ["localhost"]).map((value) => ({ type: "dns" as const, value }))];
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "02", subject: "CN=lameduck test webhook", issuer: ca.subject, notBefore, notAfter,
    signingKey: caKeys.privateKey, publicKey: leafKeys.publicKey, signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(false), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]), new x509.SubjectAlternativeNameExtension(names)],
  }, crypto);
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
  const caPem = ca.toString("pem");
  return { caPem, caBundle: Buffer.from(caPem).toString("base64"), certPem: leaf.toString("pem"), keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") };
}
