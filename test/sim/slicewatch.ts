// The simulated kube-proxy's view source: an informer on one Service's EndpointSlices (by the
// `kubernetes.io/service-name` label, as kube-proxy selects them), handing the full current set to
// the proxy after every change. The informer restarts itself after errors.
import { DiscoveryV1Api, makeInformer, type KubeConfig, type V1EndpointSlice } from "@kubernetes/client-node";

export interface SliceWatch {
  current(): readonly V1EndpointSlice[];
  stop(): Promise<void>;
}

const restartDelayMs = 200;

export async function watchServiceSlices(
  kc: KubeConfig,
  namespace: string,
  service: string,
  onChange: (slices: readonly V1EndpointSlice[]) => void,
): Promise<SliceWatch> {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const labelSelector = `kubernetes.io/service-name=${service}`;
  const informer = makeInformer<V1EndpointSlice>(
    kc,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector }),
    labelSelector,
  );
  let stopped = false;
  const changed = (): void => {
    onChange(informer.list(namespace));
  };
  informer.on("add", changed);
  informer.on("update", changed);
  informer.on("delete", changed);
  informer.on("error", () => {
    if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), restartDelayMs);
  });
  await informer.start();
  return {
    current: () => informer.list(namespace),
    async stop() {
      stopped = true;
      await informer.stop();
    },
  };
}
