// A kubeconfig for the fake: plain HTTP, one cluster, one context, a user without credentials
// (the fake does not authenticate; every request acts as an admin). client-node refuses plain
// HTTP unless skipTLSVerify is set, so it is, although there is no TLS to skip.
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";

export function kubeConfigFor(url: string, namespace = "default"): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
    users: [{ name: "admin" }],
    contexts: [{ name: "fake", cluster: "fake", user: "admin", namespace }],
    currentContext: "fake",
  });
  return kc;
}

export function kubeconfigYamlFor(url: string, namespace = "default"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster: { server: url, "insecure-skip-tls-verify": true } }],
    users: [{ name: "admin", user: {} }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "admin", namespace } }],
    "current-context": "fake",
  });
}
