// Whether the API server can call the webhook over TLS: the caBundle in the MutatingWebhookConfiguration
// must hold a CA that signed the serving certificate in the Secret, for the Service's DNS name, and
// neither may be expired or about to expire.
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { fail, pass, warn, type Finding } from "./report.ts";

const area = "tls";
const soonMs = 30 * 24 * 3600 * 1000;

export function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

function expiry(what: string, cert: X509Certificate, now: Date): Finding | undefined {
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  if (notAfter.getTime() <= now.getTime()) return fail(area, `${what} expired at ${notAfter.toISOString()}`);
  if (notBefore.getTime() > now.getTime()) return fail(area, `${what} is not valid before ${notBefore.toISOString()} (clock skew?)`);
  if (notAfter.getTime() - now.getTime() < soonMs) return warn(area, `${what} expires at ${notAfter.toISOString()}, in less than 30 days`, ["the controller renews it; if it does not, restart the lameduck Deployment"]);
  return undefined;
}

export interface CertificateInputs {
  /** The webhook's clientConfig.caBundle, base64 as the API returns it. */
  readonly caBundle: string | undefined;
  /** tls.crt of the Secret, PEM; undefined when the Secret is absent (certificates from files). */
  readonly servingCert: string | undefined;
  /** What the API server dials: <service>.<namespace>.svc, or the --webhook-url host (a name or an IP). */
  readonly host: string;
  readonly now: Date;
}

export function judgeCertificates(input: CertificateInputs): Finding[] {
  if (input.caBundle === undefined || input.caBundle === "") {
    return [fail(area, "the webhook has no caBundle: the API server cannot verify it and every call fails open (pods get no hook)", ["the controller writes it on start: is the lameduck Deployment running?"])];
  }
  let cas: X509Certificate[];
  try {
    cas = pemCertificates(Buffer.from(input.caBundle, "base64").toString("utf8")).filter((c) => c.ca);
  } catch (err) {
    return [fail(area, `the caBundle is not valid PEM: ${err instanceof Error ? err.message : String(err)}`)];
  }
  if (cas.length === 0) return [fail(area, "the caBundle holds no CA certificate")];
  const findings: Finding[] = [];
  for (const ca of cas) {
    const e = expiry(`CA "${ca.subject.replace(/\n/g, ", ")}"`, ca, input.now);
    if (e !== undefined) findings.push(e);
  }
  if (input.servingCert === undefined) {
    findings.push(warn(area, "no serving certificate Secret to compare with the caBundle (expected when certificates come from files, e.g. cert-manager)"));
    return findings;
  }
  let leaf: X509Certificate | undefined;
  try {
    [leaf] = pemCertificates(input.servingCert);
  } catch (err) {
    return [...findings, fail(area, `the serving certificate is not valid PEM: ${err instanceof Error ? err.message : String(err)}`)];
  }
  if (leaf === undefined) return [...findings, fail(area, "the Secret's tls.crt holds no certificate")];
  const serving = leaf;
  if (!cas.some((ca) => serving.checkIssued(ca) && serving.verify(ca.publicKey))) {
    findings.push(fail(area, "the serving certificate is not signed by a CA in the caBundle: the API server rejects the webhook and pods get no hook"));
  }
  const named = isIP(input.host) === 0 ? serving.checkHost(input.host) : serving.checkIP(input.host);
  if (named === undefined) findings.push(fail(area, `the serving certificate is not valid for ${input.host}`));
  const e = expiry("the serving certificate", serving, input.now);
  if (e !== undefined) findings.push(e);
  if (!findings.some((f) => f.level !== "PASS")) {
    findings.push(pass(area, `caBundle verifies the serving certificate for ${input.host}, valid until ${new Date(serving.validTo).toISOString()}`));
  }
  return findings;
}
