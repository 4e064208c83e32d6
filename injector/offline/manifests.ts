// `lameduck inject` on manifests: finds the pod templates in each YAML/JSON document, runs the same
// mutation as the webhook on each (after taking off what an earlier run added: converge.ts), and
// edits the text where the template changed (splice.ts), so that every byte lameduck does not change
// stays as written. Pure: text in, text and a report per document out, or an InjectError.
import jsonpatch, { type Operation } from "fast-json-patch";
import YAML, { isCollection, type Document } from "yaml";
import type { ClusterFacts } from "../cluster-facts.ts";
import { mutatePod } from "../mutation/mutate.ts";
import { isObject } from "../mutation/pod.ts";
import { SkipReason, type Policy } from "../mutation/policy.ts";
import { keepDefaulted, stripInjection } from "./converge.ts";
import { applyEdits, spliceEdits, type Edit } from "./splice.ts";

export class InjectError extends Error {
  override name = "InjectError";
}

/** Where each workload kind keeps its pod template. */
export const templatePaths: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  ReplicationController: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

export interface InjectOptions {
  readonly facts: ClusterFacts;
  readonly policy: Policy;
  /** Namespace of objects that name none. */
  readonly namespace: string;
}

export const Action = { injected: "injected", reinjected: "re-injected", unchanged: "unchanged", removed: "injection removed", leftAlone: "left alone" } as const;
export type Action = (typeof Action)[keyof typeof Action];

/** What happened to one document (or one item of a List). */
export interface DocumentReport {
  /** "<stdin>: document 2 (Deployment web)". */
  readonly what: string;
  readonly action: Action;
  readonly why: string;
}

export interface InjectOutput {
  readonly yaml: string;
  readonly warnings: readonly string[];
  readonly reports: readonly DocumentReport[];
}

type Path = readonly (string | number)[];

function describe(obj: Record<string, unknown>): string {
  const meta = isObject(obj["metadata"]) ? obj["metadata"] : {};
  const name = typeof meta["name"] === "string" ? meta["name"] : typeof meta["generateName"] === "string" ? `${meta["generateName"]}*` : "<unnamed>";
  return `${String(obj["kind"])} ${name}`;
}

function getAt(value: unknown, path: Path): unknown {
  let at = value;
  for (const key of path) {
    if (Array.isArray(at) && typeof key === "number") at = at[key];
    else if (isObject(at) && typeof key === "string") at = at[key];
    else return undefined;
  }
  return at;
}

function setAt(root: unknown, path: Path, value: unknown): void {
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (Array.isArray(parent) && typeof key === "number") parent[key] = value;
  else if (isObject(parent) && typeof key === "string") parent[key] = value;
}

function skipText(reason: SkipReason, namespace: string): string {
  switch (reason) {
    case SkipReason.excludedNamespace: return `namespace ${namespace} is excluded (--exclude-namespaces)`;
    case SkipReason.podOptOut: return "the template opts out (lameduck.dev/inject annotation)";
    case SkipReason.namespaceOptOut: return `namespace ${namespace} opts out`;
    case SkipReason.namespaceNotOptedIn: return `namespace ${namespace} is not opted in`;
    case SkipReason.mirrorPod: return "a mirror pod";
    case SkipReason.allHavePreStop: return "every container has its own preStop, which is kept";
    case SkipReason.alreadyInjected: return "already injected";
    case SkipReason.windowsWithoutNativeSleep: return "a Windows pod, and the native sleep is off (--native-sleep=false)";
    case SkipReason.tooManyContainers: return "more containers than lameduck patches";
    default: return reason;
  }
}

/** One YAML stream; a document that kept its own `---` marker does not get a second one. */
export function joinDocuments(docs: readonly string[]): string {
  return docs
    .filter((d) => d !== "")
    .map((d, i) => {
      const text = d.endsWith("\n") ? d : `${d}\n`;
      return i === 0 || text.startsWith("---") ? text : `---\n${text}`;
    })
    .join("");
}

/** Applies add/replace/remove operations to the YAML document at `base` (the re-rendering fallback). */
function applyToDocument(doc: Document, base: Path, ops: readonly Operation[]): void {
  for (const op of ops) {
    const path: (string | number)[] = [...base];
    for (const segment of op.path.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))) {
      const parent = doc.getIn(path, true);
      // Inside a one-line `{...}` the added fields would be one long line too.
      if (isCollection(parent)) parent.flow = false;
      path.push(Array.isArray(getAt(doc.toJS(), path)) && /^\d+$/.test(segment) ? Number(segment) : segment);
    }
    if (op.op === "remove") doc.deleteIn(path);
    else if (op.op === "add" || op.op === "replace") doc.setIn(path, doc.createNode(op.value));
    else throw new Error(`unexpected ${op.op} operation`);
  }
}

export function injectManifests(text: string, source: string, options: InjectOptions): InjectOutput {
  const docs = YAML.parseAllDocuments(text, { prettyErrors: true });
  const warnings: string[] = [];
  const reports: DocumentReport[] = [];
  const edits: Edit[] = [];
  if (!Array.isArray(docs)) {
    reports.push({ what: source, action: Action.leftAlone, why: "empty" });
    return { yaml: text, warnings, reports };
  }
  for (const [index, doc] of docs.entries()) {
    const where = `${source}: document ${index + 1}`;
    const error = doc.errors[0];
    if (error !== undefined) throw new InjectError(`${where}: ${error.message.split("\n")[0] ?? "invalid YAML"}`);
    const root: unknown = doc.toJS();
    if (root === null || root === undefined) {
      reports.push({ what: where, action: Action.leftAlone, why: "empty" });
      continue;
    }
    const final: unknown = structuredClone(root);
    const changes: { at: Path; ops: Operation[] }[] = [];

    const visit = (obj: unknown, at: Path, label: string): void => {
      if (!isObject(obj) || typeof obj["kind"] !== "string") {
        reports.push({ what: label, action: Action.leftAlone, why: "not a Kubernetes object (no kind)" });
        return;
      }
      const kind = obj["kind"];
      if (kind.endsWith("List") && Array.isArray(obj["items"])) {
        obj["items"].forEach((item, i) => {
          visit(item, [...at, "items", i], `${label} item ${i + 1}`);
        });
        return;
      }
      const what = `${label} (${describe(obj)})`;
      const templatePath = templatePaths[kind];
      if (templatePath === undefined) {
        reports.push({ what, action: Action.leftAlone, why: `a ${kind} has no pod template` });
        return;
      }
      const template = getAt(obj, templatePath);
      if (!isObject(template)) throw new InjectError(`${what}: ${templatePath.join(".")} is missing or not an object`);
      const meta = isObject(obj["metadata"]) ? obj["metadata"] : {};
      const namespace = typeof meta["namespace"] === "string" && meta["namespace"] !== "" ? meta["namespace"] : options.namespace;
      const stripped = stripInjection(template, options.policy.maxGracePeriodSeconds);
      const base = stripped ?? template;
      const outcome = mutatePod(base, namespace, options.facts, options.policy);
      // Why a template was left alone is its report line; the webhook's warning would say it twice.
      for (const w of outcome.warnings) if (outcome.result !== "skipped" || !w.includes("not injected:")) warnings.push(`${what}: ${w}`);
      if (outcome.result === "skipped" && outcome.detail !== undefined) {
        const prefix = templatePath.length === 0 ? "" : `${templatePath.join(".")}.`;
        throw new InjectError(`${what}: ${prefix}${outcome.detail}`);
      }
      if (outcome.result === "guarded") {
        throw new InjectError(`${what}: the injected pod would be invalid: ${outcome.problems.map((p) => p.message).join("; ")}`);
      }
      const injected = outcome.result === "patched" ? jsonpatch.applyPatch(structuredClone(base), jsonpatch.deepClone(outcome.ops) as Operation[], false, false).newDocument : base;
      const after = stripped === undefined ? injected : keepDefaulted(template, injected);
      const ops = jsonpatch.compare(template, after);
      const full = [...at, ...templatePath];
      if (ops.length > 0) {
        changes.push({ at: full, ops });
        if (full.length === 0) Object.assign(final as object, after);
        else setAt(final, full, after);
      }
      if (outcome.result === "patched") {
        reports.push({ what, action: stripped === undefined ? Action.injected : ops.length === 0 ? Action.unchanged : Action.reinjected, why: outcome.plan.why });
      } else if (stripped !== undefined && ops.length > 0) {
        reports.push({ what, action: Action.removed, why: skipText(outcome.reason, namespace) });
      } else {
        reports.push({ what, action: stripped === undefined ? Action.leftAlone : Action.unchanged, why: skipText(outcome.reason, namespace) });
      }
    };
    visit(root, [], where);
    if (changes.length === 0) continue;
    const spliced: Edit[] = [];
    let ok = true;
    for (const { at, ops } of changes) {
      const found = spliceEdits(text, doc, at, ops, (path) => getAt(final, path));
      if (found === undefined) {
        ok = false;
        break;
      }
      spliced.push(...found);
    }
    // The spliced text must parse to exactly the injected document; otherwise re-render it.
    const [start, , end] = doc.range;
    const checked = ok && equalYaml(applyEdits(text.slice(start, end), spliced.map((e) => ({ ...e, start: e.start - start, end: e.end - start }))), final);
    if (checked) edits.push(...spliced);
    else if (isCollection(doc.contents) && doc.contents.flow === true) {
      // JSON: written back as block YAML.
      edits.push({ start, end, text: YAML.stringify(final, { lineWidth: 0 }) });
    } else {
      for (const { at, ops } of changes) applyToDocument(doc, at, ops);
      // The document's range starts at its contents: a comment above them (which the parser hangs on
      // the first key) is outside it and stays in the text as written; rendered again it would repeat.
      const rendered = doc.toString({ lineWidth: 0 });
      const leading = /^(?:#[^\n]*\n)+/.exec(rendered)?.[0] ?? "";
      edits.push({ start, end, text: leading !== "" && text.slice(0, start).endsWith(leading) ? rendered.slice(leading.length) : rendered });
    }
  }
  return { yaml: applyEdits(text, edits), warnings, reports };
}

function equalYaml(text: string, expected: unknown): boolean {
  const [doc, ...rest] = YAML.parseAllDocuments(text);
  if (doc === undefined || rest.length > 0 || doc.errors.length > 0) return false;
  return jsonpatch.compare(doc.toJS() as object, expected as object).length === 0;
}
