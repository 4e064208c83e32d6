// Puts the CA into every webhook of the MutatingWebhookConfiguration (and, with --webhook-url, the
// URL in place of the Service). A JSON Patch guarded by a `test` of the resourceVersion changes only
// those fields: a typed read-modify-replace would drop fields newer than the client's model.
import jsonpatch from "fast-json-patch";
import type { Operation } from "fast-json-patch";
import { AdmissionregistrationV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";

export interface ClientConfig {
  caBundle?: string;
  url?: string;
  service?: unknown;
}

export interface WebhookConfigView {
  readonly resourceVersion: string;
  readonly webhooks: readonly { readonly clientConfig: ClientConfig }[];
}

export interface WebhookConfigStore {
  read(): Promise<WebhookConfigView | undefined>;
  patch(ops: readonly Operation[]): Promise<"ok" | "conflict" | "not-found">;
}

function httpCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "number") return err.code;
  return undefined;
}

export function kubeWebhookConfigStore(kc: KubeConfig, name: string): WebhookConfigStore {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  return {
    async read() {
      try {
        const config = await api.readMutatingWebhookConfiguration({ name });
        return {
          resourceVersion: config.metadata?.resourceVersion ?? "",
          webhooks: (config.webhooks ?? []).map((w) => ({
            clientConfig: {
              ...(w.clientConfig.caBundle === undefined ? {} : { caBundle: w.clientConfig.caBundle }),
              ...(w.clientConfig.url === undefined ? {} : { url: w.clientConfig.url }),
              ...(w.clientConfig.service === undefined ? {} : { service: w.clientConfig.service }),
            },
          })),
        };
      } catch (err) {
        if (httpCode(err) === 404) return undefined;
        throw new Error(`reading MutatingWebhookConfiguration ${name}: ${String(err)}`, { cause: err });
      }
    },
    async patch(ops) {
      try {
        await api.patchMutatingWebhookConfiguration({ name, body: ops }, setHeaderOptions("Content-Type", PatchStrategy.JsonPatch));
        return "ok";
      } catch (err) {
        const code = httpCode(err);
        // A failed `test` of the resourceVersion answers 422 (or 409): someone changed it meanwhile.
        if (code === 409 || code === 422) return "conflict";
        if (code === 404) return "not-found";
        throw new Error(`patching MutatingWebhookConfiguration ${name}: ${String(err)}`, { cause: err });
      }
    },
  };
}

/** The patch that makes every webhook trust `caPem` (and call `url`, when given); empty when they do. */
export function caBundlePatch(view: WebhookConfigView, caPem: string, url: string | undefined): Operation[] {
  const caBundle = Buffer.from(caPem).toString("base64");
  const current = { webhooks: view.webhooks.map((w) => ({ clientConfig: { ...w.clientConfig } })) };
  const desired = {
    webhooks: view.webhooks.map((w) => {
      const clientConfig: ClientConfig = { ...w.clientConfig, caBundle };
      if (url !== undefined) {
        // clientConfig takes a url or a service, not both.
        clientConfig.url = url;
        delete clientConfig.service;
      }
      return { clientConfig };
    }),
  };
  const ops = jsonpatch.compare(current, desired);
  return ops.length === 0 ? [] : [{ op: "test", path: "/metadata/resourceVersion", value: view.resourceVersion }, ...ops];
}

/** Makes the configuration trust `caPem`; false when it does not exist (yet). Retries lost races. */
export async function syncCaBundle(store: WebhookConfigStore, caPem: string, url: string | undefined): Promise<"unchanged" | "patched" | "not-found"> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const view = await store.read();
    if (view === undefined) return "not-found";
    const ops = caBundlePatch(view, caPem, url);
    if (ops.length === 0) return "unchanged";
    const result = await store.patch(ops);
    if (result === "ok") return "patched";
    if (result === "not-found") return "not-found";
  }
  throw new Error("the MutatingWebhookConfiguration kept changing under 5 attempts");
}
