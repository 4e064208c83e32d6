// Label and field selectors with the real grammar (k8s.io/apimachinery/pkg/labels and fields):
// `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, comma-separated, all ANDed.
import type { Obj } from "./objects.ts";
import { labelsOf, obj, isObj } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import { badRequest } from "./status.ts";

export type Matcher = (o: Obj) => boolean;

interface Requirement {
  readonly key: string;
  readonly op: "=" | "!=" | "in" | "notin" | "exists" | "!exists";
  readonly values: readonly string[];
}

function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth += 1;
    if (ch === ")") depth -= 1;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function parseRequirement(text: string, selector: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (set !== null) {
    const values = (set[3] ?? "").split(",").map((v) => v.trim()).filter((v) => v !== "");
    return { key: set[1] ?? "", op: set[2] === "in" ? "in" : "notin", values };
  }
  const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text);
  if (eq !== null) return { key: eq[1] ?? "", op: eq[2] === "!=" ? "!=" : "=", values: [eq[3] ?? ""] };
  const exists = /^(!?)([^=!\s(),]+)$/.exec(text);
  if (exists !== null) return { key: exists[2] ?? "", op: exists[1] === "!" ? "!exists" : "exists", values: [] };
  throw badRequest(`unable to parse requirement: found '${text}' in selector "${selector}"`);
}

function matches(req: Requirement, value: string | undefined): boolean {
  switch (req.op) {
    case "=": return value === req.values[0];
    case "!=": return value !== req.values[0];
    case "in": return value !== undefined && req.values.includes(value);
    case "notin": return value === undefined || !req.values.includes(value);
    case "exists": return value !== undefined;
    case "!exists": return value === undefined;
  }
}

export function parseLabelSelector(selector: string): Matcher {
  const reqs = splitTopLevel(selector).map((t) => parseRequirement(t, selector));
  if (reqs.length === 0) return () => true;
  return (o) => {
    const labels = labelsOf(o);
    return reqs.every((r) => matches(r, labels[r.key]));
  };
}

/** A field's value as the real field-label conversion renders it (booleans and numbers as text). */
function fieldValue(o: Obj, path: string): string | undefined {
  let cur: unknown = o;
  for (const part of path.split(".")) cur = isObj(cur) ? cur[part] : undefined;
  if (cur === undefined || cur === null) return "";
  if (typeof cur === "string") return cur;
  if (typeof cur === "number" || typeof cur === "boolean") return String(cur);
  return undefined;
}

export function parseFieldSelector(selector: string, r: ResourceDef): Matcher {
  const reqs = splitTopLevel(selector).map((text) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(text);
    if (m === null) throw badRequest(`invalid selector: '${selector}'; can't understand '${text}'`);
    const key = (m[1] ?? "").trim();
    if (key !== "metadata.name" && !(r.namespaced && key === "metadata.namespace") && !r.fields.includes(key)) {
      throw badRequest(`field label not supported: ${key}`);
    }
    return { key, negate: m[2] === "!=", value: (m[3] ?? "").trim() };
  });
  if (reqs.length === 0) return () => true;
  return (o) => reqs.every((q) => (fieldValue(o, q.key) === q.value) !== q.negate);
}

/** Matches a `matchLabels`/`matchExpressions` LabelSelector object (webhooks, services use the map form). */
export function labelSelectorObject(selector: unknown): Matcher {
  if (!isObj(selector)) return () => true;
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(obj(selector["matchLabels"]))) reqs.push({ key: k, op: "=", values: [String(v)] });
  for (const e of Array.isArray(selector["matchExpressions"]) ? selector["matchExpressions"] : []) {
    const x = obj(e);
    const op = x["operator"];
    const values = Array.isArray(x["values"]) ? x["values"].map(String) : [];
    const key = String(x["key"]);
    if (op === "In") reqs.push({ key, op: "in", values });
    else if (op === "NotIn") reqs.push({ key, op: "notin", values });
    else if (op === "Exists") reqs.push({ key, op: "exists", values });
    else if (op === "DoesNotExist") reqs.push({ key, op: "!exists", values });
  }
  return (o) => {
    const labels = labelsOf(o);
    return reqs.every((r) => matches(r, labels[r.key]));
  };
}
