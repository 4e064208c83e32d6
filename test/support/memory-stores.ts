// In-memory stand-ins for the Secret and the MutatingWebhookConfiguration with the API server's
// optimistic-concurrency answers (409 on create of an existing name, conflict on a stale
// resourceVersion), each call yielding to the event loop so concurrent callers interleave.
import type { Operation } from "fast-json-patch";
import jsonpatch from "fast-json-patch";
import type { SecretStore, StoredSecret } from "../../injector/tls/secret.ts";
import type { WebhookConfigStore, WebhookConfigView } from "../../injector/tls/webhookconfig.ts";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface MemorySecretStore extends SecretStore {
  current: StoredSecret | undefined;
  writes: number;
}

export function memorySecretStore(): MemorySecretStore {
  let version = 0;
  const store: MemorySecretStore = {
    current: undefined,
    writes: 0,
    async read() {
      await tick();
      return store.current;
    },
    async create(data) {
      await tick();
      if (store.current !== undefined) return "conflict";
      store.writes++;
      store.current = { data: { ...data }, resourceVersion: String(++version) };
      return store.current;
    },
    async replace(data, resourceVersion) {
      await tick();
      if (store.current?.resourceVersion !== resourceVersion) return "conflict";
      store.writes++;
      store.current = { data: { ...data }, resourceVersion: String(++version) };
      return store.current;
    },
  };
  return store;
}

export interface MemoryWebhookConfigStore extends WebhookConfigStore {
  view: WebhookConfigView | undefined;
}

export function memoryWebhookConfigStore(view: WebhookConfigView | undefined): MemoryWebhookConfigStore {
  const store: MemoryWebhookConfigStore = {
    view,
    async read() {
      await tick();
      return store.view === undefined ? undefined : structuredClone(store.view);
    },
    async patch(ops: readonly Operation[]) {
      await tick();
      if (store.view === undefined) return "not-found";
      const doc = { metadata: { resourceVersion: store.view.resourceVersion }, webhooks: structuredClone(store.view.webhooks) };
      try {
        const next = jsonpatch.applyPatch(doc, [...ops], true, false).newDocument;
        store.view = { resourceVersion: String(Number(store.view.resourceVersion) + 1), webhooks: next.webhooks };
        return "ok";
      } catch {
        return "conflict";
      }
    },
  };
  return store;
}
