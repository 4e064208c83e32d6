// A local Kubernetes API server for tests, the demo and the benchmark: plain HTTP on loopback, an
// in-memory store, watches, the EndpointSlice and namespace controllers, mutating admission
// webhooks, and fault knobs. See README.md beside this file for what it serves and what it leaves out.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import { makeApi } from "./api.ts";
import type { Admit, Validate } from "./api.ts";
import { startEndpointSliceController } from "./endpointslices.ts";
import { makeFaults } from "./faults.ts";
import type { FaultKnobs } from "./faults.ts";
import { kubeConfigFor, kubeconfigYamlFor } from "./kubeconfig.ts";
import { bootstrapNamespaces, startNamespaceController } from "./namespaces.ts";
import { makeHandler } from "./server.ts";
import type { RecordedRequest } from "./server.ts";
import { makeStore } from "./store.ts";
import { makeAdmission } from "./admission.ts";
import type { ServiceRef } from "./admission.ts";
import { validatePod } from "./validation.ts";
import { Res } from "./resources.ts";
import type { Store } from "./store.ts";

export type { FaultKnobs, RequestFilter, RequestInfo } from "./faults.ts";
export type { RecordedRequest } from "./server.ts";
export type { ServiceRef } from "./admission.ts";

export interface FakeApiOptions {
  host?: string;
  /** 0 (the default) picks an ephemeral port. */
  port?: number;
  /** What /version reports. */
  gitVersion?: string;
  /** How many store events watches can resume from before a resourceVersion expires (410). */
  historySize?: number;
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK. The real server: about a minute. */
  bookmarkIntervalMs?: number;
  /** How long the EndpointSlice controller waits before acting on a change. */
  endpointSliceDelayMs?: number;
  /**
   * The EndpointSlice controller publishes pods at loopback addresses, which a real API server
   * refuses (README.md, "Left out"): for the in-process simulation, whose pods serve on 127.0.0.1.
   * Slices written through the API are validated either way.
   */
  allowLoopbackEndpoints?: boolean;
  /** Replaces the admission chain (the default calls registered MutatingWebhookConfigurations). */
  admit?: Admit;
  /** Maps a webhook's clientConfig.service to an https URL; without it only clientConfig.url works. */
  resolveService?: (ref: ServiceRef) => string;
}

export interface FakeApi {
  readonly url: string;
  kubeConfig(): KubeConfig;
  kubeconfigYaml(): string;
  readonly faults: FaultKnobs;
  readonly requests: readonly RecordedRequest[];
  /** Direct access to the objects, for assertions that must not go through the API. Read-only: stored
   *  objects are shared with watch streams and response caches, never mutate them. */
  readonly store: Store;
  close(): Promise<void>;
}

const fakeRootCa = "-----BEGIN CERTIFICATE-----\nZmFrZWFwaSByb290IENB\n-----END CERTIFICATE-----\n";

export async function startFakeApi(options: FakeApiOptions = {}): Promise<FakeApi> {
  const host = options.host ?? "127.0.0.1";
  const store = makeStore({ historySize: options.historySize ?? 50_000 });
  const faults = makeFaults();
  const log: RecordedRequest[] = [];
  let ipCounter = 0;
  const allocateIp = (): string => {
    ipCounter += 1;
    return `10.96.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 2}`;
  };
  const admit: Admit = options.admit ?? makeAdmission({ store, allocateIp, resolveService: options.resolveService });
  const validate: Validate = (r, o) => (r === Res.pods ? validatePod(o) : []);
  const api = makeApi({ store, admit, validate, allocateIp });
  const namespaces = startNamespaceController(store, api, fakeRootCa);
  bootstrapNamespaces(store);
  const slices = startEndpointSliceController(store, { delayMs: options.endpointSliceDelayMs ?? 10, allowLoopback: options.allowLoopbackEndpoints ?? false });
  let release = (): void => {
    // replaced below by the promise's resolver
  };
  const closing = new Promise<void>((resolve) => {
    release = resolve;
  });
  let address = "";
  const server = createServer(makeHandler({
    api, store, faults, log, closing,
    gitVersion: options.gitVersion ?? "v1.36.2",
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
    serverAddress: () => address,
  }));
  // client-node opens a new connection (a new undici Agent) per request and leaves it idle; with a
  // long keep-alive, 10,000 creates hold 20,000 descriptors (client and server side) and hit the
  // process limit. Node's default of 5 s keeps that bounded.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => { resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  address = `${host}:${port}`;
  const url = `http://${address}`;
  return {
    url,
    kubeConfig: () => kubeConfigFor(url),
    kubeconfigYaml: () => kubeconfigYamlFor(url),
    faults: faults.knobs,
    requests: log,
    store,
    async close() {
      release();
      faults.knobs.dropWatches("close");
      namespaces.stop();
      slices.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
