// `lameduck inject` on manifests: finds the pod templates in each YAML/JSON document, runs the same
// mutation as the webhook on each, and applies the resulting JSON Patch to the YAML document itself so
// that comments and key order survive. Pure: text in, text and warnings out, or an InjectError.
import type { Operation } from "fast-json-patch";
import YAML, { isCollection, isSeq, type Document } from "yaml";
import type { ClusterFacts } from "../cluster-facts.ts";
import { mutatePod } from "../mutation/mutate.ts";
import { isObject } from "../mutation/pod.ts";
import type { Policy } from "../mutation/policy.ts";

export class InjectError extends Error {
  override name = "InjectError";
}

/** Where each workload kind keeps its pod template. */
const templatePaths: Readonly<Record<string, readonly string[]>> = {
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

export interface InjectOutput {
  readonly yaml: string;
  readonly warnings: readonly string[];
  readonly injected: number;
}

type Path = readonly (string | number)[];

function pointerSegments(pointer: string): string[] {
  return pointer.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Applies add/replace operations to the YAML document at `base`, keeping its comments and order. */
function applyToDocument(doc: Document, base: Path, ops: readonly Operation[]): void {
  for (const op of ops) {
    if (op.op !== "add" && op.op !== "replace") throw new Error(`unexpected ${op.op} operation in an injection patch`);
    const path: (string | number)[] = [...base];
    for (const segment of pointerSegments(op.path)) {
      const parent = doc.getIn(path, true);
      // Inside a one-line `{...}` the added fields would be one long line too: write the
      // collections on the way in block style.
      if (isCollection(parent)) parent.flow = false;
      path.push(isSeq(parent) && /^\d+$/.test(segment) ? Number(segment) : segment);
    }
    doc.setIn(path, doc.createNode(op.value));
  }
}

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

/** One YAML stream; a document that kept its own `---` marker does not get a second one. */
export function joinDocuments(docs: readonly string[]): string {
  return docs
    .map((d, i) => {
      const text = d.endsWith("\n") ? d : `${d}\n`;
      return i === 0 || text.startsWith("---") ? text : `---\n${text}`;
    })
    .join("");
}

export function injectManifests(text: string, source: string, options: InjectOptions): InjectOutput {
  const docs = YAML.parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) return { yaml: "", warnings: [], injected: 0 };
  const warnings: string[] = [];
  let injected = 0;
  const out: string[] = [];
  for (const [index, doc] of docs.entries()) {
    const where = `${source}: document ${index + 1}`;
    const error = doc.errors[0];
    if (error !== undefined) throw new InjectError(`${where}: ${error.message.split("\n")[0] ?? "invalid YAML"}`);
    const root: unknown = doc.toJS();
    // An empty document (a trailing `---`) carries nothing to pass through.
    if (root === null || root === undefined) continue;
    // JSON input parses as flow collections; write it back as block YAML like the rest.
    const contents = doc.contents;
    const rewrite = isCollection(contents) && contents.flow === true;

    const visit = (obj: unknown, at: Path, label: string): void => {
      if (!isObject(obj)) return;
      const kind = obj["kind"];
      if (typeof kind === "string" && kind.endsWith("List") && Array.isArray(obj["items"])) {
        obj["items"].forEach((item, i) => {
          visit(item, [...at, "items", i], `${label} item ${i + 1}`);
        });
        return;
      }
      if (typeof kind !== "string") return;
      const templatePath = templatePaths[kind];
      if (templatePath === undefined) return;
      const what = `${label} (${describe(obj)})`;
      const template = getAt(obj, templatePath);
      if (!isObject(template)) throw new InjectError(`${what}: ${templatePath.join(".")} is missing or not an object`);
      const meta = isObject(obj["metadata"]) ? obj["metadata"] : {};
      const namespace = typeof meta["namespace"] === "string" && meta["namespace"] !== "" ? meta["namespace"] : options.namespace;
      const outcome = mutatePod(template, namespace, options.facts, options.policy);
      for (const w of outcome.warnings) warnings.push(`${what}: ${w}`);
      if (outcome.result === "skipped" && outcome.detail !== undefined) {
        const prefix = templatePath.length === 0 ? "" : `${templatePath.join(".")}.`;
        throw new InjectError(`${what}: ${prefix}${outcome.detail}`);
      }
      if (outcome.result === "guarded") {
        throw new InjectError(`${what}: the injected pod would be invalid: ${outcome.problems.map((p) => p.message).join("; ")}`);
      }
      if (outcome.result !== "patched") return;
      injected++;
      applyToDocument(doc, [...at, ...templatePath], outcome.ops);
    };
    visit(root, [], where);
    if (rewrite) {
      out.push(YAML.stringify(doc.toJS(), { lineWidth: 0 }));
    } else {
      out.push(doc.toString({ lineWidth: 0 }));
    }
  }
  return { yaml: joinDocuments(out), warnings, injected };
}
