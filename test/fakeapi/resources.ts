// The resources the fake serves, described once; routing, discovery and the store all read this.
import type { Obj } from "./objects.ts";

export interface ResourceDef {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly subresources: readonly string[];
  /** The zero-valued body of a BOOKMARK object: the real server encodes the typed empty object. */
  readonly bookmarkBody: Obj;
  /** The status is written only through the status subresource (and kept on main-resource updates). */
  readonly hasStatus: boolean;
  /** DELETE answers with the object (pods, services, namespaces) instead of a Status. */
  readonly returnsDeleted: boolean;
}

function def(d: Partial<ResourceDef> & Pick<ResourceDef, "group" | "version" | "kind" | "plural" | "namespaced">): ResourceDef {
  return Object.freeze({
    singular: d.kind.toLowerCase(),
    shortNames: [],
    subresources: [],
    bookmarkBody: {},
    hasStatus: false,
    returnsDeleted: false,
    ...d,
  });
}

export const resources: readonly ResourceDef[] = [
  def({ group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, shortNames: ["ns"],
    subresources: ["status", "finalize"], bookmarkBody: { spec: {}, status: {} }, hasStatus: true, returnsDeleted: true }),
  def({ group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false, shortNames: ["no"],
    subresources: ["status"], bookmarkBody: { spec: {}, status: { daemonEndpoints: { kubeletEndpoint: { Port: 0 } }, nodeInfo: { machineID: "", systemUUID: "", bootID: "", kernelVersion: "", osImage: "", containerRuntimeVersion: "", kubeletVersion: "", kubeProxyVersion: "", operatingSystem: "", architecture: "" } } }, hasStatus: true }),
  def({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, shortNames: ["po"],
    subresources: ["status", "binding", "eviction"],
    bookmarkBody: { spec: { containers: null }, status: {} }, hasStatus: true, returnsDeleted: true }),
  def({ group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, shortNames: ["svc"],
    subresources: ["status"], bookmarkBody: { spec: {}, status: { loadBalancer: {} } }, hasStatus: true, returnsDeleted: true }),
  def({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, shortNames: ["cm"] }),
  def({ group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true }),
  def({ group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, shortNames: ["sa"] }),
  def({ group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, shortNames: ["ev"],
    bookmarkBody: { involvedObject: {}, reportingComponent: "", reportingInstance: "" } }),
  def({ group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", namespaced: true, shortNames: ["ev"],
    bookmarkBody: { eventTime: null, reportingController: "", reportingInstance: "" } }),
  def({ group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices", namespaced: true,
    bookmarkBody: { addressType: "", endpoints: null, ports: null } }),
  def({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true, bookmarkBody: { spec: {} } }),
  def({ group: "admissionregistration.k8s.io", version: "v1", kind: "MutatingWebhookConfiguration",
    plural: "mutatingwebhookconfigurations", namespaced: false }),
  def({ group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingWebhookConfiguration",
    plural: "validatingwebhookconfigurations", namespaced: false }),
  def({ group: "admissionregistration.k8s.io", version: "v1", kind: "MutatingAdmissionPolicy",
    plural: "mutatingadmissionpolicies", namespaced: false }),
  def({ group: "admissionregistration.k8s.io", version: "v1", kind: "MutatingAdmissionPolicyBinding",
    plural: "mutatingadmissionpolicybindings", namespaced: false }),
];

export function apiVersionOf(r: ResourceDef): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}

/** `pods`, or `endpointslices.discovery.k8s.io`: how the real server names a resource in messages. */
export function qualifiedName(r: ResourceDef): string {
  return r.group === "" ? r.plural : `${r.plural}.${r.group}`;
}

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return resources.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function resourceKey(r: ResourceDef): string {
  return `${r.group}/${r.plural}`;
}

export const Res = {
  namespaces: must("", "namespaces"),
  nodes: must("", "nodes"),
  pods: must("", "pods"),
  services: must("", "services"),
  configmaps: must("", "configmaps"),
  serviceaccounts: must("", "serviceaccounts"),
  endpointslices: must("discovery.k8s.io", "endpointslices"),
  mutatingwebhooks: must("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
  mutatingpolicies: must("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
  mutatingpolicybindings: must("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
} as const;

function must(group: string, plural: string): ResourceDef {
  const r = resources.find((x) => x.group === group && x.plural === plural);
  if (r === undefined) throw new Error(`fakeapi: resource ${plural}.${group} missing from the table`);
  return r;
}
