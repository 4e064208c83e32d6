// Editing a YAML document as text, so that everything lameduck does not change stays byte for byte
// what the user wrote: flow style, quoting, comments, blank lines. The edits come from a JSON Patch
// (fast-json-patch's compare of the template before and after) and land at the source ranges the
// `yaml` parser reports: a new key or list item is inserted as lines after its siblings, at their
// indentation; a changed scalar is replaced in place; a removed key or item loses its lines. A flow
// collection (`{…}`, `[…}`) that gains content is rewritten as a block, the smallest change that
// keeps the added fields readable. Anything else (a key on the line of its `- `, a collection left
// empty) returns undefined, and the caller re-renders the document instead.
import type { Operation } from "fast-json-patch";
import YAML, { isCollection, isMap, isPair, isScalar, isSeq, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from "yaml";

export interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

type Path = readonly (string | number)[];
type Ranged = Node & { range: [number, number, number] };

const ranged = (n: unknown): n is Ranged => (isScalar(n) || isCollection(n)) && Array.isArray((n as Node).range);

function lineStart(src: string, at: number): number {
  return src.lastIndexOf("\n", at - 1) + 1;
}

/** Just past the newline that ends the line holding `end - 1` (block ranges end after theirs). */
function afterLine(src: string, end: number): number {
  if (end > 0 && src[end - 1] === "\n") return end;
  const nl = src.indexOf("\n", end);
  return nl === -1 ? src.length : nl + 1;
}

/** Whether the source indents a block list under its key (`key:\n  - a`) or not (`key:\n- a`). */
export function indentsLists(src: string): boolean {
  const indentless = /^( *)[^\s#-][^\n]*:[ \t]*\n\1- /m.test(src);
  const indented = /^( *)[^\s#-][^\n]*:[ \t]*\n\1 +- /m.test(src);
  return indented || !indentless;
}

function render(value: unknown, indent: number, indentSeq: boolean): string {
  const pad = " ".repeat(indent);
  return YAML.stringify(value, { lineWidth: 0, indentSeq })
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => (l === "" ? l : pad + l))
    .join("\n");
}

/** A scalar as YAML source; inside `{…}` or `[…]` anything but a plain word is double-quoted. */
function scalar(value: unknown, inFlow: boolean): string {
  if (inFlow && typeof value === "string" && !/^[A-Za-z0-9_./@+=-][A-Za-z0-9_ ./@+=-]*$/.test(value)) return JSON.stringify(value);
  return YAML.stringify(value, { lineWidth: 0 }).replace(/\n$/, "");
}

function pointer(path: string): string[] {
  return path.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function step(parent: unknown, key: string): string | number {
  return isSeq(parent) && /^\d+$/.test(key) ? Number(key) : key;
}

function pairOf(map: unknown, key: string | number): Pair | undefined {
  if (!isMap(map)) return undefined;
  return map.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(key));
}

/** The text edits that turn `doc` (parsed from `src`) into one with `ops` applied at `base`, or undefined. */
export function spliceEdits(src: string, doc: Document, base: Path, ops: readonly Operation[], after: (path: Path) => unknown): Edit[] | undefined {
  const range = doc.range ?? [0, src.length, src.length];
  const indentSeq = indentsLists(src.slice(range[0], range[2]));
  const edits: Edit[] = [];
  const rewritten: Ranged[] = [];
  const rewrites = new Set<Edit>();
  const within = (n: Ranged): boolean => rewritten.some((r) => r.range[0] <= n.range[0] && n.range[1] <= r.range[1]);
  // Items appended to each list so far: the patch numbers a second new item after the first one.
  const appended = new Map<YAMLSeq, number>();
  for (const op of ops) {
    const path: (string | number)[] = [];
    const chain: unknown[] = [doc.contents];
    for (const s of [...base, ...pointer(op.path)]) {
      path.push(typeof s === "number" ? s : step(chain[chain.length - 1], s));
      chain.push(doc.getIn(path, true));
    }
    const parent = chain[chain.length - 2];
    const key = path[path.length - 1];
    if (key === undefined || !ranged(parent)) return undefined;
    const target = chain[chain.length - 1];
    if (op.op === "replace" && ranged(target) && isScalar(target) && (typeof op.value !== "object" || op.value === null)) {
      if (!rewritten.some((r) => r.range[0] <= target.range[0] && target.range[1] <= r.range[1])) {
        const inFlow = chain.slice(0, -1).some((n) => isCollection(n) && n.flow === true);
        edits.push({ start: target.range[0], end: target.range[1], text: scalar(op.value, inFlow) });
      }
      continue;
    }
    // The outermost flow collection on the way: it becomes a block holding its new value.
    const flowIndex = chain.slice(0, -1).findIndex((n) => isCollection(n) && n.flow === true);
    if (flowIndex !== -1) {
      const flow = chain[flowIndex];
      if (!ranged(flow)) return undefined;
      if (within(flow)) continue;
      const flowPath = path.slice(0, flowIndex);
      const edit = rewriteFlow(src, doc, flow, flowPath, after(flowPath), indentSeq);
      if (edit === undefined) return undefined;
      rewritten.push(flow);
      rewrites.add(edit);
      edits.push(edit);
      continue;
    }
    if (within(parent)) continue;
    if (op.op === "add" && isMap(parent) && pairOf(parent, key) === undefined) {
      const edit = appendToMap(src, parent, { [String(key)]: op.value as unknown }, indentSeq);
      if (edit === undefined) return undefined;
      edits.push(edit);
    } else if (op.op === "add" && isSeq(parent) && (key === "-" || key === parent.items.length + (appended.get(parent) ?? 0))) {
      const edit = appendToSeq(src, parent, op.value, indentSeq);
      if (edit === undefined) return undefined;
      appended.set(parent, (appended.get(parent) ?? 0) + 1);
      edits.push(edit);
    } else if (op.op === "remove") {
      // A collection may lose its last entry when another operation adds one to it.
      const refilled = ops.some((o) => o.op === "add" && o.path.startsWith(op.path.slice(0, op.path.lastIndexOf("/") + 1)) && o.path !== op.path);
      const edit = removeFrom(src, parent, key, refilled);
      if (edit === undefined) return undefined;
      edits.push(edit);
    } else return undefined;
  }
  // An in-place edit made before its flow collection was rewritten is part of the rewrite.
  return edits.filter((e) => rewrites.has(e) || !rewritten.some((r) => r.range[0] <= e.start && e.end <= r.range[1]));
}

function appendToMap(src: string, map: YAMLMap, entry: Record<string, unknown>, indentSeq: boolean): Edit | undefined {
  const first = map.items[0];
  const last = map.items[map.items.length - 1];
  if (!isPair(first) || !isPair(last) || !ranged(first.key)) return undefined;
  const indent = first.key.range[0] - lineStart(src, first.key.range[0]);
  const end = ranged(last.value) ? last.value.range[1] : ranged(last.key) ? last.key.range[1] : undefined;
  if (end === undefined) return undefined;
  return insertAt(src, afterLine(src, end), render(entry, indent, indentSeq));
}

function appendToSeq(src: string, seq: YAMLSeq & Ranged, value: unknown, indentSeq: boolean): Edit | undefined {
  const last = seq.items[seq.items.length - 1];
  if (!ranged(last)) return undefined;
  const indent = seq.range[0] - lineStart(src, seq.range[0]);
  return insertAt(src, afterLine(src, last.range[1]), render([value], indent, indentSeq));
}

function insertAt(src: string, at: number, block: string): Edit {
  const lead = at === src.length && !src.endsWith("\n") ? "\n" : "";
  return { start: at, end: at, text: `${lead}${block}\n` };
}

function removeFrom(src: string, parent: Ranged, key: string | number, refilled: boolean): Edit | undefined {
  if (!isCollection(parent) || (parent.items.length < 2 && !refilled)) return undefined;
  let from: number;
  let to: number;
  if (isMap(parent)) {
    const pair = pairOf(parent, key);
    if (pair === undefined || !ranged(pair.key)) return undefined;
    from = pair.key.range[0];
    to = ranged(pair.value) ? pair.value.range[1] : pair.key.range[1];
  } else {
    const item = parent.items[Number(key)];
    if (!ranged(item)) return undefined;
    // Back to the item's `- `.
    from = src.lastIndexOf("-", item.range[0]);
    to = item.range[1];
  }
  const start = lineStart(src, from);
  // Only whole lines: a key that shares its line with a `- ` (the first key of a list item) stays.
  if (src.slice(start, from).trim() !== "") return undefined;
  return { start, end: afterLine(src, to), text: "" };
}

function rewriteFlow(src: string, doc: Document, flow: Ranged, path: Path, value: unknown, indentSeq: boolean): Edit | undefined {
  if (path.length === 0 || doc.contents === flow) return { start: flow.range[0], end: flow.range[1], text: YAML.stringify(value, { lineWidth: 0 }).replace(/\n$/, "") };
  const parent = doc.getIn(path.slice(0, -1), true);
  const key = path[path.length - 1];
  if (isMap(parent) && key !== undefined) {
    const pair = pairOf(parent, key);
    if (pair === undefined || !ranged(pair.key)) return undefined;
    const indent = pair.key.range[0] - lineStart(src, pair.key.range[0]);
    return { start: flow.range[0] - leadingSpace(src, flow.range[0]), end: flow.range[1], text: `\n${render(value, Array.isArray(value) && !indentSeq ? indent : indent + 2, indentSeq)}` };
  }
  if (isSeq(parent) && !parent.flow) {
    const dash = src.lastIndexOf("-", flow.range[0]);
    const indent = dash - lineStart(src, dash) + 2;
    return { start: flow.range[0], end: flow.range[1], text: render(value, indent, indentSeq).slice(indent) };
  }
  return undefined;
}

function leadingSpace(src: string, at: number): number {
  let n = 0;
  while (at - n - 1 >= 0 && src[at - n - 1] === " ") n++;
  return n;
}

/** `src` with the edits applied (later ones first, so earlier offsets stay valid; ties keep op order). */
export function applyEdits(src: string, edits: readonly Edit[]): string {
  const ordered = edits.map((e, i) => ({ e, i })).sort((a, b) => b.e.start - a.e.start || b.i - a.i);
  let out = src;
  for (const { e } of ordered) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
