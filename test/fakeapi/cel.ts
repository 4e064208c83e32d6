// A tiny evaluator for the CEL that webhook matchConditions are usually written in: literals,
// field and index access, has(), !, &&, ||, ==, !=, <, <=, >, >=, in, size(), startsWith(),
// endsWith(), contains(). Anything else is reported as unsupported, never silently taken as true.
import { isObj } from "./objects.ts";

export class CelUnsupported extends Error {}
/** A runtime error in the expression (e.g. a missing key), which the real server treats per failurePolicy. */
export class CelError extends Error {}

type Token = { kind: "num" | "str" | "ident" | "op"; text: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|&&|\|\||[!<>.()[\],]))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (m === null) throw new CelUnsupported(`unsupported syntax at ${String(pos)}: ${src.slice(pos, pos + 20)}`);
    pos = re.lastIndex;
    if (m[1] !== undefined) out.push({ kind: "num", text: m[1] });
    else if (m[2] !== undefined) out.push({ kind: "str", text: m[2].replace(/\\(.)/g, "$1") });
    else if (m[3] !== undefined) out.push({ kind: "str", text: m[3].replace(/\\(.)/g, "$1") });
    else if (m[4] !== undefined) out.push({ kind: "ident", text: m[4] });
    else out.push({ kind: "op", text: m[5] ?? "" });
  }
  return out;
}

type Node = (vars: Record<string, unknown>) => unknown;

function parse(src: string): Node {
  const tokens = tokenize(src);
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const eat = (text: string): boolean => {
    if (peek()?.text === text && peek()?.kind !== "str") {
      i += 1;
      return true;
    }
    return false;
  };
  const expect = (text: string): void => {
    if (!eat(text)) throw new CelUnsupported(`expected '${text}' in ${src}`);
  };

  function or(): Node {
    let left = and();
    while (eat("||")) {
      const l = left;
      const r = and();
      left = (v) => bool(l(v)) || bool(r(v));
    }
    return left;
  }
  function and(): Node {
    let left = unary();
    while (eat("&&")) {
      const l = left;
      const r = unary();
      left = (v) => bool(l(v)) && bool(r(v));
    }
    return left;
  }
  function unary(): Node {
    if (eat("!")) {
      const inner = unary();
      return (v) => !bool(inner(v));
    }
    return comparison();
  }
  function comparison(): Node {
    const left = postfix();
    const op = peek();
    if (op !== undefined && op.kind !== "str" && ["==", "!=", "<", "<=", ">", ">=", "in"].includes(op.text)) {
      i += 1;
      const right = postfix();
      return (v) => compare(op.text, left(v), right(v));
    }
    return left;
  }
  function postfix(): Node {
    let node = primary();
    for (;;) {
      if (eat(".")) {
        const name = peek();
        if (name?.kind !== "ident") throw new CelUnsupported(`expected a field name in ${src}`);
        i += 1;
        const target = node;
        if (eat("(")) {
          const args: Node[] = [];
          while (!eat(")")) {
            args.push(or());
            eat(",");
          }
          node = method(name.text, target, args);
        } else {
          node = (v) => field(target(v), name.text);
        }
      } else if (eat("[")) {
        const target = node;
        const key = or();
        expect("]");
        node = (v) => field(target(v), key(v));
      } else {
        return node;
      }
    }
  }
  function primary(): Node {
    const t = peek();
    if (t === undefined) throw new CelUnsupported(`unexpected end of ${src}`);
    i += 1;
    if (t.kind === "num") return () => Number(t.text);
    if (t.kind === "str") return () => t.text;
    if (t.text === "(") {
      const inner = or();
      expect(")");
      return inner;
    }
    if (t.text === "[") {
      const items: Node[] = [];
      while (!eat("]")) {
        items.push(or());
        eat(",");
      }
      return (v) => items.map((n) => n(v));
    }
    if (t.kind === "ident") {
      if (t.text === "true" || t.text === "false") return () => t.text === "true";
      if (t.text === "null") return () => null;
      if (t.text === "has") {
        expect("(");
        // has(a.b.c): evaluate a.b, then test for the field c without failing on its absence.
        const end = tokens.findIndex((x, k) => k > i && x.text === ")" && x.kind === "op");
        const last = tokens[end - 1];
        if (end < 0 || tokens[end - 2]?.text !== "." || last?.kind !== "ident") throw new CelUnsupported(`has() needs a field selection in ${src}`);
        const holderEnd = end - 2;
        const saved = tokens.splice(holderEnd, 2);
        const holder = postfix();
        tokens.splice(holderEnd, 0, ...saved);
        i += 2;
        expect(")");
        return (v) => {
          const o = holder(v);
          return isObj(o) && o[last.text] !== undefined;
        };
      }
      if (t.text === "size" && eat("(")) {
        const arg = or();
        expect(")");
        return (v) => size(arg(v));
      }
      const name = t.text;
      return (v) => {
        if (!(name in v)) throw new CelUnsupported(`undeclared reference to '${name}' (the fake binds object, oldObject and request)`);
        return v[name];
      };
    }
    throw new CelUnsupported(`unexpected '${t.text}' in ${src}`);
  }

  const node = or();
  if (i !== tokens.length) throw new CelUnsupported(`unexpected '${tokens[i]?.text ?? ""}' in ${src}`);
  return node;
}

function bool(x: unknown): boolean {
  if (typeof x !== "boolean") throw new CelError(`no matching overload: expected a bool, got ${JSON.stringify(x)}`);
  return x;
}

function field(o: unknown, key: unknown): unknown {
  if (Array.isArray(o) && typeof key === "number") {
    if (key < 0 || key >= o.length) throw new CelError(`index out of bounds: ${String(key)}`);
    return o[key];
  }
  if (isObj(o) && typeof key === "string") {
    if (o[key] === undefined) throw new CelError(`no such key: ${key}`);
    return o[key];
  }
  throw new CelError(`no such key: ${String(key)}`);
}

function size(x: unknown): number {
  if (typeof x === "string" || Array.isArray(x)) return x.length;
  if (isObj(x)) return Object.keys(x).length;
  throw new CelError("no matching overload for size");
}

function compare(op: string, a: unknown, b: unknown): boolean {
  switch (op) {
    case "==": return JSON.stringify(a) === JSON.stringify(b);
    case "!=": return JSON.stringify(a) !== JSON.stringify(b);
    case "in":
      if (Array.isArray(b)) return b.some((x) => JSON.stringify(x) === JSON.stringify(a));
      if (isObj(b) && typeof a === "string") return b[a] !== undefined;
      throw new CelError("no matching overload for 'in'");
    default: {
      if (typeof a !== typeof b || (typeof a !== "number" && typeof a !== "string")) throw new CelError(`no matching overload for '${op}'`);
      const x = a;
      const y = b as typeof a;
      return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
    }
  }
}

function method(name: string, target: Node, args: Node[]): Node {
  const stringMethods: Record<string, (s: string, arg: string) => boolean> = {
    startsWith: (s, a) => s.startsWith(a), endsWith: (s, a) => s.endsWith(a), contains: (s, a) => s.includes(a),
  };
  if (name === "size" && args.length === 0) return (v) => size(target(v));
  const fn = stringMethods[name];
  const arg = args[0];
  if (fn === undefined || arg === undefined || args.length !== 1) throw new CelUnsupported(`unsupported function ${name}() (the fake supports size, startsWith, endsWith, contains)`);
  return (v) => {
    const s = target(v);
    const a = arg(v);
    if (typeof s !== "string" || typeof a !== "string") throw new CelError(`no matching overload for ${name}`);
    return fn(s, a);
  };
}

/** Compiles an expression; throws CelUnsupported for what the fake cannot evaluate. */
export function compileCel(src: string): (vars: Record<string, unknown>) => boolean {
  const node = parse(src);
  return (vars) => bool(node(vars));
}
