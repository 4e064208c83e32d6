// The CA and serving certificate live in one Secret in the controller's namespace, shared by every
// replica. Whoever finds it missing or due creates or replaces it; a replica that loses the race (409
// on create, or a stale resourceVersion on replace) reads the winner's instead. Keys: ca.crt (the
// bundle the API server trusts: the current CA first, older unexpired CAs after it), ca.key,
// tls.crt, tls.key.
import { CoreV1Api, V1ObjectMeta, V1Secret, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import { Label, managedByValue } from "../names.ts";
import { caRenewalReason, createCa, issueServing, parseBundle, servingRenewalReason, type KeyPairPem, type SubjectNames } from "./certs.ts";

export const SecretKey = { caCert: "ca.crt", caKey: "ca.key", cert: "tls.crt", key: "tls.key" } as const;
type SecretData = Readonly<Record<string, string>>;

export interface StoredSecret {
  readonly data: SecretData;
  readonly resourceVersion: string;
}

/** The Secret, behind the three calls the race needs. */
export interface SecretStore {
  read(): Promise<StoredSecret | undefined>;
  create(data: SecretData): Promise<StoredSecret | "conflict">;
  replace(data: SecretData, resourceVersion: string): Promise<StoredSecret | "conflict">;
}

export interface CertificateBundle {
  /** PEM CA certificates for the webhook configuration's caBundle. */
  readonly caBundle: string;
  readonly cert: string;
  readonly key: string;
}

/** Bounded: every retry follows another replica's successful write. */
const maxAttempts = 5;

function httpCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "number") return err.code;
  return undefined;
}

function decode(secret: V1Secret): StoredSecret {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, "base64").toString("utf8");
  return { data, resourceVersion: secret.metadata?.resourceVersion ?? "" };
}

function encode(namespace: string, name: string, data: SecretData, resourceVersion?: string): V1Secret {
  const secret = new V1Secret();
  secret.apiVersion = "v1";
  secret.kind = "Secret";
  secret.metadata = Object.assign(new V1ObjectMeta(), { name, namespace, labels: { [Label.managedBy]: managedByValue } });
  if (resourceVersion !== undefined) secret.metadata.resourceVersion = resourceVersion;
  secret.type = "Opaque";
  secret.data = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  return secret;
}

export function kubeSecretStore(kc: KubeConfig, namespace: string, name: string): SecretStore {
  const api = kc.makeApiClient(CoreV1Api);
  return {
    async read() {
      try {
        return decode(await api.readNamespacedSecret({ name, namespace }));
      } catch (err) {
        if (httpCode(err) === 404) return undefined;
        throw new Error(`reading Secret ${namespace}/${name}: ${String(err)}`, { cause: err });
      }
    },
    async create(data) {
      try {
        return decode(await api.createNamespacedSecret({ namespace, body: encode(namespace, name, data) }));
      } catch (err) {
        if (httpCode(err) === 409) return "conflict";
        throw new Error(`creating Secret ${namespace}/${name}: ${String(err)}`, { cause: err });
      }
    },
    async replace(data, resourceVersion) {
      try {
        return decode(await api.replaceNamespacedSecret({ name, namespace, body: encode(namespace, name, data, resourceVersion) }));
      } catch (err) {
        const code = httpCode(err);
        if (code === 409 || code === 404) return "conflict";
        throw new Error(`replacing Secret ${namespace}/${name}: ${String(err)}`, { cause: err });
      }
    },
  };
}

function bundleOf(data: SecretData): CertificateBundle {
  return { caBundle: data[SecretKey.caCert] ?? "", cert: data[SecretKey.cert] ?? "", key: data[SecretKey.key] ?? "" };
}

/** The CA certificates of a bundle that are still valid at `now`, as PEM. */
function unexpired(caBundle: string, now: Date): string[] {
  try {
    return parseBundle(caBundle)
      .filter((c) => c.notAfter.getTime() > now.getTime())
      .map((c) => c.toString("pem"));
  } catch {
    return [];
  }
}

/** The Secret's next contents and why, or undefined when it is good as it is. */
export async function renewal(data: SecretData | undefined, names: SubjectNames, now: Date): Promise<{ data: SecretData; reason: string } | undefined> {
  let ca: KeyPairPem | undefined;
  let caBundle = data?.[SecretKey.caCert] ?? "";
  const caKey = data?.[SecretKey.caKey];
  let reason: string | undefined;
  try {
    const [current] = parseBundle(caBundle);
    if (current !== undefined && caKey !== undefined) ca = { cert: current.toString("pem"), key: caKey };
  } catch {
    ca = undefined;
  }
  const caReason = ca === undefined ? "no usable CA" : caRenewalReason(ca.cert, now);
  if (caReason !== undefined || ca === undefined) {
    ca = await createCa(now);
    // The old CA stays trusted until it expires: the other replica may still serve a certificate it signed.
    caBundle = [ca.cert, ...unexpired(caBundle, now)].join("");
    reason = `new CA: ${caReason ?? "missing"}`;
  }
  const serving = { cert: data?.[SecretKey.cert] ?? "", key: data?.[SecretKey.key] ?? "" };
  let servingReason: string | undefined;
  try {
    servingReason = await servingRenewalReason(serving, ca.cert, names, now);
  } catch {
    servingReason = "unreadable certificate";
  }
  if (reason === undefined && servingReason === undefined) return undefined;
  const issued = await issueServing(ca, names, now);
  return {
    data: { [SecretKey.caCert]: caBundle, [SecretKey.caKey]: ca.key, [SecretKey.cert]: issued.cert, [SecretKey.key]: issued.key },
    reason: reason ?? `new serving certificate: ${servingReason ?? ""}`,
  };
}

/** Reads the Secret, creating or renewing it when needed, and returns the certificates to serve. */
export async function ensureCertificates(store: SecretStore, names: SubjectNames, now: Date, logger: Logger): Promise<CertificateBundle> {
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const current = await store.read();
    const next = await renewal(current?.data, names, now);
    if (next === undefined && current !== undefined) return bundleOf(current.data);
    if (next === undefined) throw new Error("no certificate to store");
    const written = current === undefined ? await store.create(next.data) : await store.replace(next.data, current.resourceVersion);
    if (written === "conflict") {
      logger.info({ attempt }, "another replica wrote the webhook certificate Secret first; reading theirs");
      continue;
    }
    logger.info({ reason: next.reason }, current === undefined ? "created the webhook certificate Secret" : "renewed the webhook certificate");
    return bundleOf(written.data);
  }
  throw new Error(`the webhook certificate Secret kept changing under ${maxAttempts} attempts`);
}
