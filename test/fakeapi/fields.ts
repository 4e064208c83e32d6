// Field selectors as the real server takes them: k8s.io/apimachinery/pkg/fields/selector.go splits
// on unescaped commas (empty terms are skipped, nothing is trimmed), splits each term at its first
// `!=`, `==` or `=`, unescapes `\\`, `\,` and `\=` in the value; then each term goes through the kind's
// field-label conversion (pkg/apis/core/v1/conversion.go for pods, nodes, namespaces, secrets,
// services and events; runtime.DefaultMetaV1FieldSelectorConversion for the rest) and is matched
// against the registry's selectable fields (e.g. pod.ToSelectableFields). Errors are 400s with the
// Go error text.
import type { Obj } from "./objects.ts";
import { isObj, meta, obj, objs } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";
import { badRequest } from "./status.ts";
import type { Matcher } from "./selectors.ts";

/** A kind's field-label conversion and selectable fields; absent: the default (name and namespace only). */
interface FieldSupport {
  readonly labels: readonly string[];
  /** Labels renamed by the conversion (pods accept the old `spec.host`). */
  readonly aliases?: Readonly<Record<string, string>>;
  readonly value: (o: Obj, label: string) => string;
}

const text = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : "");
const bool = (v: unknown): string => String(v === true);
const metaField = (o: Obj, label: string): string => (label === "metadata.name" ? text(meta(o)["name"]) : label === "metadata.namespace" ? text(meta(o)["namespace"]) : "");

const support: Readonly<Record<string, FieldSupport>> = {
  "/pods": {
    labels: ["metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
      "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"],
    aliases: { "spec.host": "spec.nodeName" },
    value(o, label) {
      const spec = obj(o["spec"]);
      const status = obj(o["status"]);
      switch (label) {
        case "spec.nodeName": case "spec.restartPolicy": case "spec.schedulerName": case "spec.serviceAccountName": return text(spec[label.slice(5)]);
        case "spec.hostNetwork": return bool(spec["hostNetwork"]);
        case "status.phase": case "status.nominatedNodeName": return text(status[label.slice(7)]);
        // status.podIP is the first of status.podIPs; status.podIPs itself is accepted but not selectable (always "").
        case "status.podIP": return text(objs(status["podIPs"])[0]?.["ip"]);
        default: return metaField(o, label);
      }
    },
  },
  "/nodes": { labels: ["metadata.name", "spec.unschedulable"], value: (o, label) => (label === "spec.unschedulable" ? bool(obj(o["spec"])["unschedulable"]) : metaField(o, label)) },
  "/namespaces": { labels: ["status.phase", "metadata.name"], value: (o, label) => (label === "status.phase" ? text(obj(o["status"])["phase"]) : metaField(o, label)) },
  "/secrets": { labels: ["type", "metadata.namespace", "metadata.name"], value: (o, label) => (label === "type" ? text(o["type"]) : metaField(o, label)) },
  "/services": {
    labels: ["metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"],
    value: (o, label) => (label.startsWith("spec.") ? text(obj(o["spec"])[label.slice(5)]) : metaField(o, label)),
  },
  "/events": {
    labels: ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
      "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type", "metadata.namespace", "metadata.name"],
    value(o, label) {
      if (label.startsWith("involvedObject.")) return text(obj(o["involvedObject"])[label.slice(15)]);
      if (label === "source") return text(obj(o["source"])["component"]);
      return label.startsWith("metadata.") ? metaField(o, label) : text(o[label]);
    },
  },
};

interface Term {
  readonly label: string;
  readonly negate: boolean;
  readonly value: string;
}

function splitTerms(selector: string): string[] {
  if (selector === "") return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === "\\") inSlash = true;
    else if (c === ",") {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

function unescape(value: string): string {
  let out = "";
  let inSlash = false;
  for (const c of value) {
    if (inSlash) {
      if (c !== "\\" && c !== "," && c !== "=") throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      inSlash = false;
    } else if (c === "\\") {
      inSlash = true;
    } else if (c === "," || c === "=") {
      // Go prints the rune with %v: its code point.
      throw badRequest(`invalid field selector: unescaped character in value: ${String(c.codePointAt(0))}`);
    } else {
      out += c;
    }
  }
  if (inSlash) throw badRequest("invalid field selector: invalid escape sequence: \\");
  return out;
}

function splitTerm(selector: string, term: string): Term {
  for (let i = 0; i < term.length; i++) {
    for (const op of ["!=", "==", "="]) {
      if (term.startsWith(op, i)) return { label: term.slice(0, i), negate: op === "!=", value: unescape(term.slice(i + op.length)) };
    }
  }
  throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
}

function convert(r: ResourceDef, t: Term): Term {
  const own = support[`${r.group}/${r.plural}`];
  if (own === undefined) {
    if (t.label === "metadata.name" || t.label === "metadata.namespace") return t;
    throw badRequest(`${JSON.stringify(t.label)} is not a known field selector: only "metadata.name", "metadata.namespace"`);
  }
  const alias = own.aliases?.[t.label];
  if (alias !== undefined) return { ...t, label: alias };
  if (!own.labels.includes(t.label)) throw badRequest(`field label not supported: ${t.label}`);
  return t;
}

function valueOf(r: ResourceDef, o: Obj, label: string): string {
  const own = support[`${r.group}/${r.plural}`];
  return own === undefined ? metaField(o, label) : own.value(o, label);
}

/** A `fieldSelector` query parameter for resource `r`; throws the real 400 for one the server refuses. */
export function parseFieldSelector(selector: string, r: ResourceDef): Matcher {
  // The real parser sorts the terms before it looks at them, which decides which error wins.
  const terms = splitTerms(selector).sort().filter((t) => t !== "").map((t) => splitTerm(selector, t)).map((t) => convert(r, t));
  if (terms.length === 0) return () => true;
  return (o) => isObj(o) && terms.every((t) => (valueOf(r, o, t.label) === t.value) !== t.negate);
}

