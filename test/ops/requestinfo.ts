// What the API server's authorizer sees in an HTTP request (k8s.io/apiserver RequestInfoFactory):
// verb, API group, resource, subresource, namespace and name, from the method and the URL alone.
import type { ResourceRequest } from "./rbac.ts";

export type RequestInfo = { readonly kind: "resource"; readonly request: ResourceRequest } | { readonly kind: "nonResource"; readonly path: string; readonly verb: string };

const methodVerbs: Readonly<Record<string, string>> = { POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete", GET: "get", HEAD: "get" };

export function requestInfo(method: string, url: string): RequestInfo {
  const parsed = new URL(url, "http://api");
  const parts = parsed.pathname.split("/").filter((p) => p !== "");
  const lowerVerb = (methodVerbs[method.toUpperCase()] ?? method.toLowerCase());
  let rest: string[];
  let apiGroup: string;
  if (parts[0] === "api" && parts.length >= 3) {
    apiGroup = "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 4) {
    apiGroup = parts[1] ?? "";
    rest = parts.slice(3);
  } else {
    return { kind: "nonResource", path: parsed.pathname, verb: lowerVerb };
  }
  let namespace: string | undefined;
  // /namespaces/{ns}/{resource}/... is namespaced; /namespaces and /namespaces/{name}[/{sub}] is the
  // Namespace object itself.
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  } else if (rest[0] === "namespaces" && rest.length === 2) {
    namespace = rest[1];
  }
  const [resource = "", name, subresource] = rest;
  let verb = lowerVerb;
  let requestName = name;
  if (name === undefined) {
    if (verb === "get") verb = ["true", "1"].includes(parsed.searchParams.get("watch") ?? "") ? "watch" : "list";
    if (verb === "delete") verb = "deletecollection";
    // list and watch are authorized against a name when they select exactly one by field.
    const byName = /(?:^|,)metadata\.name=([^,]+)/.exec(parsed.searchParams.get("fieldSelector") ?? "")?.[1];
    if ((verb === "list" || verb === "watch") && byName !== undefined) requestName = byName;
  }
  return { kind: "resource", request: { verb, apiGroup, resource, subresource, namespace, name: requestName } };
}

/** Non-resource URLs every authenticated client may read (the system:discovery and system:public-info-viewer roles). */
export function publicNonResource(path: string): boolean {
  return ["/version", "/healthz", "/livez", "/readyz", "/api", "/apis", "/openapi"].some((p) => path === p || path.startsWith(`${p}/`));
}

/** The resource requests among recorded ones, each with a line naming it for failure messages. */
export function resourceRequests(recorded: readonly { readonly method: string; readonly url: string; readonly status: number }[]): { request: ResourceRequest; line: string }[] {
  return recorded.flatMap((r) => {
    const info = requestInfo(r.method, r.url);
    return info.kind === "resource" ? [{ request: info.request, line: `${r.method} ${r.url} → ${r.status}` }] : [];
  });
}
