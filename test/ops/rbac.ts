// An RBAC evaluator over rendered manifests, with the authorizer's rules (k8s.io/kubernetes
// plugin/pkg/auth/authorizer/rbac): a request is allowed when some rule of some role bound to the
// subject matches its API group, resource (or "resource/subresource"), verb and, when the rule names
// any, resource name. ClusterRoleBindings apply everywhere; RoleBindings only in their own namespace,
// and so never to cluster-scoped resources.

export interface ResourceRequest {
  readonly verb: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly subresource?: string | undefined;
  /** Undefined for cluster-scoped resources and for requests across all namespaces. */
  readonly namespace?: string | undefined;
  /** Undefined for create and for list/watch without a metadata.name field selector. */
  readonly name?: string | undefined;
}

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames: readonly string[];
}

/** Where a rule comes from, and the rule: for reports of what allowed a request or went unused. */
export interface BoundRule {
  readonly role: string;
  readonly binding: string;
  /** The binding's namespace for a RoleBinding; undefined for a ClusterRoleBinding (everywhere). */
  readonly namespace: string | undefined;
  readonly index: number;
  readonly rule: PolicyRule;
}

export interface Rbac {
  /** The rules that allow the request (empty: denied). */
  allowing(subject: ServiceAccountRef, request: ResourceRequest): readonly BoundRule[];
  allows(subject: ServiceAccountRef, request: ResourceRequest): boolean;
  /** Every rule bound to the subject, with where it applies. */
  rulesOf(subject: ServiceAccountRef): readonly BoundRule[];
}

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : [];
}
function meta(o: Obj): { name: string; namespace: string | undefined } {
  const m = isObj(o["metadata"]) ? o["metadata"] : {};
  return { name: str(m["name"]) ?? "", namespace: str(m["namespace"]) };
}

function rulesIn(o: Obj): PolicyRule[] {
  const rules = Array.isArray(o["rules"]) ? o["rules"] : [];
  return rules.filter(isObj).map((r) => ({
    apiGroups: strings(r["apiGroups"]),
    resources: strings(r["resources"]),
    verbs: strings(r["verbs"]),
    resourceNames: strings(r["resourceNames"]),
  }));
}

function subjectMatches(s: Obj, sa: ServiceAccountRef, bindingNamespace: string | undefined): boolean {
  const kind = str(s["kind"]);
  const name = str(s["name"]);
  if (kind === "ServiceAccount") {
    // A RoleBinding's ServiceAccount subject without a namespace means the binding's namespace.
    return name === sa.name && (str(s["namespace"]) ?? bindingNamespace) === sa.namespace;
  }
  if (kind === "User") return name === `system:serviceaccount:${sa.namespace}:${sa.name}`;
  if (kind === "Group") return name === "system:serviceaccounts" || name === `system:serviceaccounts:${sa.namespace}` || name === "system:authenticated";
  return false;
}

function has(list: readonly string[], value: string): boolean {
  return list.includes("*") || list.includes(value);
}

function resourceMatches(rule: PolicyRule, resource: string, subresource: string | undefined): boolean {
  const combined = subresource === undefined || subresource === "" ? resource : `${resource}/${subresource}`;
  return rule.resources.some((r) => r === "*" || r === combined || (subresource !== undefined && subresource !== "" && r === `*/${subresource}`));
}

export function ruleMatches(rule: PolicyRule, request: ResourceRequest): boolean {
  if (!has(rule.verbs, request.verb)) return false;
  if (!has(rule.apiGroups, request.apiGroup)) return false;
  if (!resourceMatches(rule, request.resource, request.subresource)) return false;
  if (rule.resourceNames.length === 0) return true;
  return request.name !== undefined && request.name !== "" && rule.resourceNames.includes(request.name);
}

export function makeRbac(objects: readonly unknown[]): Rbac {
  const objs = objects.filter(isObj);
  const roles = new Map<string, PolicyRule[]>();
  for (const o of objs) {
    const { name, namespace } = meta(o);
    if (o["kind"] === "ClusterRole") roles.set(`ClusterRole/${name}`, rulesIn(o));
    if (o["kind"] === "Role") roles.set(`Role/${namespace ?? ""}/${name}`, rulesIn(o));
  }
  const bindings = objs.filter((o) => o["kind"] === "ClusterRoleBinding" || o["kind"] === "RoleBinding");

  const rulesOf = (sa: ServiceAccountRef): BoundRule[] => {
    const out: BoundRule[] = [];
    for (const b of bindings) {
      const { name, namespace } = meta(b);
      const clusterWide = b["kind"] === "ClusterRoleBinding";
      const subjects = Array.isArray(b["subjects"]) ? b["subjects"].filter(isObj) : [];
      if (!subjects.some((s) => subjectMatches(s, sa, clusterWide ? undefined : namespace))) continue;
      const ref = isObj(b["roleRef"]) ? b["roleRef"] : {};
      const refKind = str(ref["kind"]);
      const refName = str(ref["name"]) ?? "";
      // A RoleBinding may grant a ClusterRole, but only inside the binding's namespace.
      const key = refKind === "ClusterRole" ? `ClusterRole/${refName}` : clusterWide ? undefined : `Role/${namespace ?? ""}/${refName}`;
      if (key === undefined) continue;
      const rules = roles.get(key) ?? [];
      rules.forEach((rule, index) => out.push({ role: key, binding: `${String(b["kind"])}/${name}`, namespace: clusterWide ? undefined : namespace, index, rule }));
    }
    return out;
  };

  const allowing = (sa: ServiceAccountRef, request: ResourceRequest): BoundRule[] =>
    rulesOf(sa).filter((b) => (b.namespace === undefined || b.namespace === request.namespace) && ruleMatches(b.rule, request));

  return { allowing, allows: (sa, request) => allowing(sa, request).length > 0, rulesOf };
}

/** A rule's grants spelled out one by one, to find what no request used. */
export interface Grant {
  readonly rule: BoundRule;
  readonly verb: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly resourceName: string | undefined;
}

export function grantsOf(bound: BoundRule): Grant[] {
  const names = bound.rule.resourceNames.length === 0 ? [undefined] : bound.rule.resourceNames;
  return bound.rule.verbs.flatMap((verb) =>
    bound.rule.apiGroups.flatMap((apiGroup) => bound.rule.resources.flatMap((resource) => names.map((resourceName) => ({ rule: bound, verb, apiGroup, resource, resourceName })))),
  );
}

export function grantUsedBy(grant: Grant, request: ResourceRequest): boolean {
  const single: PolicyRule = { verbs: [grant.verb], apiGroups: [grant.apiGroup], resources: [grant.resource], resourceNames: grant.resourceName === undefined ? [] : [grant.resourceName] };
  return (grant.rule.namespace === undefined || grant.rule.namespace === request.namespace) && ruleMatches(single, request);
}

export function describeGrant(g: Grant): string {
  const where = g.rule.namespace === undefined ? "cluster-wide" : `in ${g.rule.namespace}`;
  return `${g.verb} ${g.apiGroup === "" ? "core" : g.apiGroup}/${g.resource}${g.resourceName === undefined ? "" : `/${g.resourceName}`} ${where} (${g.rule.role} rule ${g.rule.index})`;
}
