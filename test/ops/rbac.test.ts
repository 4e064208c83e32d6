import { beforeAll, describe, expect, it } from "vitest";
import { describeGrant, grantsOf, makeRbac, type Rbac } from "./rbac.ts";
import { render } from "./render.ts";
import { requestInfo } from "./requestinfo.ts";

const sa = { namespace: "lameduck-system", name: "lameduck" };

const role = (kind: string, name: string, namespace: string | undefined, rules: unknown[]): unknown => ({
  kind,
  metadata: namespace === undefined ? { name } : { name, namespace },
  rules,
});
const binding = (kind: string, name: string, namespace: string | undefined, roleRef: { kind: string; name: string }, subjects: unknown[]): unknown => ({
  kind,
  metadata: namespace === undefined ? { name } : { name, namespace },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", ...roleRef },
  subjects,
});
const saSubject = { kind: "ServiceAccount", name: "lameduck", namespace: "lameduck-system" };

describe("the RBAC evaluator", () => {
  it("allows a verb on a resource only through a role bound to the subject", () => {
    const rbac = makeRbac([
      role("ClusterRole", "reader", undefined, [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }]),
      role("ClusterRole", "unbound", undefined, [{ apiGroups: [""], resources: ["secrets"], verbs: ["*"] }]),
      binding("ClusterRoleBinding", "reader", undefined, { kind: "ClusterRole", name: "reader" }, [saSubject]),
    ]);
    expect(rbac.allows(sa, { verb: "list", apiGroup: "", resource: "pods", namespace: "shop" })).toBe(true);
    expect(rbac.allows(sa, { verb: "list", apiGroup: "", resource: "pods" })).toBe(true);
    expect(rbac.allows(sa, { verb: "watch", apiGroup: "", resource: "pods" })).toBe(false);
    expect(rbac.allows(sa, { verb: "list", apiGroup: "apps", resource: "pods" })).toBe(false);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "secrets", namespace: "x", name: "y" })).toBe(false);
    expect(rbac.allows({ namespace: "other", name: "lameduck" }, { verb: "list", apiGroup: "", resource: "pods" })).toBe(false);
  });

  it("limits a RoleBinding to its own namespace, also when it grants a ClusterRole", () => {
    const rbac = makeRbac([
      role("ClusterRole", "cm", undefined, [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }]),
      role("Role", "sec", "lameduck-system", [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }]),
      binding("RoleBinding", "cm", "lameduck-system", { kind: "ClusterRole", name: "cm" }, [saSubject]),
      binding("RoleBinding", "sec", "lameduck-system", { kind: "Role", name: "sec" }, [{ kind: "ServiceAccount", name: "lameduck" }]),
    ]);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "configmaps", namespace: "lameduck-system", name: "a" })).toBe(true);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "configmaps", namespace: "shop", name: "a" })).toBe(false);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "configmaps", name: "a" })).toBe(false);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "secrets", namespace: "lameduck-system", name: "s" })).toBe(true);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "secrets", namespace: "default", name: "s" })).toBe(false);
  });

  it("matches resource names only when the request names the object, so create is never name-limited", () => {
    const rbac = makeRbac([
      role("ClusterRole", "one", undefined, [{ apiGroups: [""], resources: ["secrets"], resourceNames: ["tls"], verbs: ["get", "create", "list"] }]),
      binding("ClusterRoleBinding", "one", undefined, { kind: "ClusterRole", name: "one" }, [saSubject]),
    ]);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "secrets", namespace: "n", name: "tls" })).toBe(true);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "secrets", namespace: "n", name: "other" })).toBe(false);
    expect(rbac.allows(sa, { verb: "create", apiGroup: "", resource: "secrets", namespace: "n" })).toBe(false);
    // list/watch carry a name only with fieldSelector=metadata.name=<name>.
    expect(rbac.allows(sa, { verb: "list", apiGroup: "", resource: "secrets", namespace: "n" })).toBe(false);
    expect(rbac.allows(sa, { verb: "list", apiGroup: "", resource: "secrets", namespace: "n", name: "tls" })).toBe(true);
  });

  it("treats subresources as resources of their own, with */sub and * wildcards", () => {
    const rbac = makeRbac([
      role("ClusterRole", "r", undefined, [
        { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
        { apiGroups: ["*"], resources: ["*/status"], verbs: ["patch"] },
      ]),
      binding("ClusterRoleBinding", "r", undefined, { kind: "ClusterRole", name: "r" }, [{ kind: "Group", name: "system:serviceaccounts:lameduck-system" }]),
    ]);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "pods", subresource: "log", namespace: "a", name: "p" })).toBe(false);
    expect(rbac.allows(sa, { verb: "patch", apiGroup: "apps", resource: "deployments", subresource: "status", namespace: "a", name: "d" })).toBe(true);
    expect(rbac.allows(sa, { verb: "patch", apiGroup: "apps", resource: "deployments", namespace: "a", name: "d" })).toBe(false);
  });

  it("spells out a rule's grants one verb, group, resource and name at a time", () => {
    const rbac = makeRbac([
      role("ClusterRole", "r", undefined, [{ apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] }]),
      binding("ClusterRoleBinding", "r", undefined, { kind: "ClusterRole", name: "r" }, [saSubject]),
    ]);
    const grants = rbac.rulesOf(sa).flatMap(grantsOf).map(describeGrant);
    expect(grants).toHaveLength(4);
    expect(grants[0]).toBe("create core/events cluster-wide (ClusterRole/r rule 0)");
  });
});

describe("the rendered RBAC", () => {
  let rbac: Rbac;
  beforeAll(async () => {
    rbac = makeRbac(await render("manifests"));
  });

  it("lets the controller write only its own Secret, and create Secrets only in its namespace", () => {
    expect(rbac.allows(sa, { verb: "update", apiGroup: "", resource: "secrets", namespace: "lameduck-system", name: "lameduck-webhook-tls" })).toBe(true);
    expect(rbac.allows(sa, { verb: "update", apiGroup: "", resource: "secrets", namespace: "lameduck-system", name: "other" })).toBe(false);
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "secrets", namespace: "shop", name: "lameduck-webhook-tls" })).toBe(false);
    expect(rbac.allows(sa, { verb: "create", apiGroup: "", resource: "secrets", namespace: "lameduck-system" })).toBe(true);
    expect(rbac.allows(sa, { verb: "create", apiGroup: "", resource: "secrets", namespace: "shop" })).toBe(false);
  });

  it("lets the controller change only its own MutatingWebhookConfiguration", () => {
    const mwc = { apiGroup: "admissionregistration.k8s.io", resource: "mutatingwebhookconfigurations" };
    expect(rbac.allows(sa, { verb: "patch", ...mwc, name: "lameduck" })).toBe(true);
    expect(rbac.allows(sa, { verb: "patch", ...mwc, name: "istio-sidecar-injector" })).toBe(false);
    expect(rbac.allows(sa, { verb: "delete", ...mwc, name: "lameduck" })).toBe(false);
    expect(rbac.allows(sa, { verb: "create", ...mwc })).toBe(false);
  });

  it("never lets the controller change a ConfigMap's content or write pods", () => {
    for (const verb of ["update", "patch"]) {
      expect(rbac.allows(sa, { verb, apiGroup: "", resource: "configmaps", namespace: "shop", name: "lameduck-hook-0123abcd" })).toBe(false);
    }
    for (const verb of ["create", "update", "patch", "delete"]) {
      expect(rbac.allows(sa, { verb, apiGroup: "", resource: "pods", namespace: "shop", name: "web-0" })).toBe(false);
    }
    expect(rbac.allows(sa, { verb: "get", apiGroup: "", resource: "secrets", namespace: "shop", name: "db-password" })).toBe(false);
  });
});

describe("reading a request as the authorizer does", () => {
  const info = (method: string, url: string): unknown => requestInfo(method, url);
  it("tells list, watch, get and deletecollection apart by name and the watch parameter", () => {
    expect(info("GET", "/api/v1/namespaces/shop/configmaps?labelSelector=a%3Db")).toEqual({ kind: "resource", request: { verb: "list", apiGroup: "", resource: "configmaps", subresource: undefined, namespace: "shop", name: undefined } });
    expect(info("GET", "/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=5")).toMatchObject({ request: { verb: "watch", apiGroup: "discovery.k8s.io", resource: "endpointslices", namespace: undefined } });
    expect(info("GET", "/api/v1/namespaces/shop/pods/web-0")).toMatchObject({ request: { verb: "get", resource: "pods", name: "web-0" } });
    expect(info("DELETE", "/api/v1/namespaces/shop/configmaps")).toMatchObject({ request: { verb: "deletecollection" } });
  });
  it("names the object of a list or watch that selects one by metadata.name", () => {
    expect(info("GET", "/api/v1/namespaces/lameduck-system/secrets?fieldSelector=metadata.name%3Dlameduck-webhook-tls&watch=1")).toMatchObject({
      request: { verb: "watch", resource: "secrets", namespace: "lameduck-system", name: "lameduck-webhook-tls" },
    });
  });
  it("reads the Namespace object itself, subresources and cluster-scoped objects", () => {
    expect(info("GET", "/api/v1/namespaces/shop")).toMatchObject({ request: { verb: "get", resource: "namespaces", name: "shop", namespace: "shop" } });
    expect(info("PUT", "/api/v1/namespaces/shop/pods/web-0/status")).toMatchObject({ request: { verb: "update", resource: "pods", name: "web-0", subresource: "status" } });
    expect(info("PATCH", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/lameduck")).toMatchObject({
      request: { verb: "patch", apiGroup: "admissionregistration.k8s.io", resource: "mutatingwebhookconfigurations", name: "lameduck", namespace: undefined },
    });
    expect(info("GET", "/version")).toEqual({ kind: "nonResource", path: "/version", verb: "get" });
  });
});
