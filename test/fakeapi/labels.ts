// Label selectors as k8s.io/apimachinery/pkg/labels/selector.go parses them: its lexer, its
// recursive-descent parser and NewRequirement's validation, with the real error texts (the API
// server answers 400 with the parser's message as is, e.g. `found '', expected: identifier after ','`
// for a trailing comma, recorded from v1.36.2). Operators: =, ==, !=, in, notin, exists, !exists,
// gt, lt.
import type { Obj } from "./objects.ts";
import { labelsOf } from "./objects.ts";
import { goValue, isLabelKey, isLabelValue } from "./formats.ts";
import { badRequest } from "./status.ts";
import type { Matcher } from "./selectors.ts";

const Tok = {
  error: "error", end: "end", closePar: ")", comma: ",", not: "!", doubleEquals: "==", equals: "=", gt: ">",
  identifier: "identifier", in: "in", lt: "<", notEquals: "!=", notIn: "notin", openPar: "(",
} as const;
type Token = (typeof Tok)[keyof typeof Tok];

// Every literal token; anything else the lexer reads is an identifier.
const literalTokens: Readonly<Record<string, Token>> = {
  ")": Tok.closePar, ",": Tok.comma, "!": Tok.not, "==": Tok.doubleEquals, "=": Tok.equals, ">": Tok.gt,
  in: Tok.in, "<": Tok.lt, "!=": Tok.notEquals, notin: Tok.notIn, "(": Tok.openPar,
};

type Operator = "in" | "notin" | "=" | "==" | "!=" | "gt" | "lt" | "exists" | "!";
const binaryOperators = ["in", "notin", "=", "==", "!=", "gt", "lt"];

interface Requirement {
  readonly key: string;
  readonly op: Operator;
  readonly values: readonly string[];
}

class ParseError extends Error {}

const isWhitespace = (ch: string): boolean => ch === " " || ch === "\t" || ch === "\r" || ch === "\n";
const isSpecial = (ch: string): boolean => "=!(),><".includes(ch);

function lex(s: string): { tok: Token; lit: string }[] {
  const items: { tok: Token; lit: string }[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isWhitespace(s[pos] ?? "")) pos++;
    if (pos >= s.length) {
      items.push({ tok: Tok.end, lit: "" });
      return items;
    }
    let buffer = s[pos] ?? "";
    if (isSpecial(buffer)) {
      // The longest run of special characters that is still a token: `!=` but `!` then `(`.
      const first = literalTokens[buffer];
      let last: { tok: Token; lit: string } | undefined = first === undefined ? undefined : { tok: first, lit: buffer };
      pos++;
      while (pos < s.length && isSpecial(s[pos] ?? "")) {
        const next = buffer + (s[pos] ?? "");
        const tok = literalTokens[next];
        if (tok === undefined && last !== undefined) break;
        buffer = next;
        pos++;
        if (tok !== undefined) last = { tok, lit: next };
      }
      items.push(last ?? { tok: Tok.error, lit: `error expected: keyword found '${buffer}'` });
      continue;
    }
    let end = pos;
    while (end < s.length && !isSpecial(s[end] ?? "") && !isWhitespace(s[end] ?? "")) end++;
    const lit = s.slice(pos, end);
    pos = end;
    items.push({ tok: literalTokens[lit] ?? Tok.identifier, lit });
  }
}

function parse(selector: string): Requirement[] {
  const items = lex(selector);
  let position = 0;
  // In value position `in` and `notin` are ordinary identifiers ("values" context of the real parser).
  const asValue = (tok: Token): Token => (tok === Tok.in || tok === Tok.notIn ? Tok.identifier : tok);
  const lookahead = (values = true): { tok: Token; lit: string } => {
    const item = items[position] ?? { tok: Tok.end, lit: "" };
    return { tok: values ? asValue(item.tok) : item.tok, lit: item.lit };
  };
  const consume = (values = true): { tok: Token; lit: string } => {
    const item = lookahead(values);
    position++;
    return item;
  };

  function identifiers(): string[] {
    const out = new Set<string>();
    for (;;) {
      const { tok, lit } = consume();
      if (tok === Tok.identifier) {
        out.add(lit);
        const next = lookahead();
        if (next.tok === Tok.comma) continue;
        if (next.tok === Tok.closePar) return [...out];
        throw new ParseError(`found '${next.lit}', expected: ',' or ')'`);
      }
      if (tok !== Tok.comma) throw new ParseError(`found '${lit}', expected: ',', or identifier`);
      // `(,`, `,,` and `,)` stand for the empty value.
      if (out.size === 0) out.add("");
      const next = lookahead().tok;
      if (next === Tok.closePar) {
        out.add("");
        return [...out];
      }
      if (next === Tok.comma) out.add("");
    }
  }

  function setValues(): string[] {
    const open = consume();
    if (open.tok !== Tok.openPar) throw new ParseError(`found '${open.lit}' expected: '('`);
    const { tok, lit } = lookahead();
    if (tok === Tok.identifier || tok === Tok.comma) {
      const values = identifiers();
      if (consume().tok !== Tok.closePar) throw new ParseError(`found '${lit}', expected: ')'`);
      return values;
    }
    if (tok === Tok.closePar) {
      consume();
      return [""];
    }
    throw new ParseError(`found '${lit}', expected: ',', ')' or identifier`);
  }

  function exactValue(): string[] {
    const next = lookahead();
    if (next.tok === Tok.end || next.tok === Tok.comma) return [""];
    const { tok, lit } = consume();
    if (tok === Tok.identifier) return [lit];
    throw new ParseError(`found '${lit}', expected: identifier`);
  }

  function requirement(): Requirement {
    let op: Operator | undefined;
    let { tok, lit } = consume();
    if (tok === Tok.not) {
      op = "!";
      ({ tok, lit } = consume());
    }
    if (tok !== Tok.identifier) throw new ParseError(`found '${lit}', expected: identifier`);
    const key = lit;
    // The key is checked before the requirement is built, with no field path ("<nil>").
    const keyErrors = isLabelKey(key);
    if (keyErrors.length > 0) throw new ParseError(`<nil>: Invalid value: ${goValue(key)}: ${keyErrors.join("; ")}`);
    const after = lookahead().tok;
    if (op === "!" || after === Tok.end || after === Tok.comma) return newRequirement(key, op ?? "exists", []);
    const operator = consume(false);
    const byToken: Partial<Record<Token, Operator>> = { [Tok.in]: "in", [Tok.equals]: "=", [Tok.doubleEquals]: "==", [Tok.gt]: "gt", [Tok.lt]: "lt", [Tok.notIn]: "notin", [Tok.notEquals]: "!=" };
    op = byToken[operator.tok];
    if (op === undefined) throw new ParseError(`found '${operator.lit}', expected: ${binaryOperators.join(", ")}`);
    const values = op === "in" || op === "notin" ? setValues() : exactValue();
    return newRequirement(key, op, [...new Set(values)].sort());
  }

  const out: Requirement[] = [];
  for (;;) {
    const { tok, lit } = lookahead();
    if (tok === Tok.end) return out;
    if (tok !== Tok.identifier && tok !== Tok.not) throw new ParseError(`found '${lit}', expected: !, identifier, or 'end of string'`);
    try {
      out.push(requirement());
    } catch (e) {
      if (e instanceof ParseError) throw new ParseError(`unable to parse requirement: ${e.message}`);
      throw e;
    }
    const sep = consume();
    if (sep.tok === Tok.end) return out;
    if (sep.tok !== Tok.comma) throw new ParseError(`found '${sep.lit}', expected: ',' or 'end of string'`);
    const next = lookahead();
    if (next.tok !== Tok.identifier && next.tok !== Tok.not) throw new ParseError(`found '${next.lit}', expected: identifier after ','`);
  }
}

/** labels.NewRequirement's checks, aggregated as utilerrors does: one message, or `[a, b]`. */
function newRequirement(key: string, op: Operator, values: string[]): Requirement {
  const errs: string[] = [];
  if (op === "gt" || op === "lt") {
    values.forEach((v, i) => {
      if (!/^[+-]?\d+$/.test(v)) errs.push(`values[${String(i)}]: Invalid value: ${goValue(v)}: for 'Gt', 'Lt' operators, the value must be an integer`);
    });
  }
  values.forEach((v, i) => {
    const problems = isLabelValue(v);
    if (problems.length > 0) errs.push(`values[${String(i)}][${key}]: Invalid value: ${goValue(v)}: ${problems.join("; ")}`);
  });
  const unique = [...new Set(errs)];
  if (unique.length === 1) throw new ParseError(unique[0]);
  if (unique.length > 1) throw new ParseError(`[${unique.join(", ")}]`);
  return { key, op, values };
}

function matches(r: Requirement, labels: Record<string, string>): boolean {
  const value = labels[r.key];
  switch (r.op) {
    case "in": case "=": case "==": return value !== undefined && r.values.includes(value);
    case "notin": case "!=": return value === undefined || !r.values.includes(value);
    case "exists": return value !== undefined;
    case "!": return value === undefined;
    case "gt": case "lt": {
      if (value === undefined || !/^[+-]?\d+$/.test(value)) return false;
      const have = BigInt(value);
      const want = BigInt(r.values[0] ?? "0");
      return r.op === "gt" ? have > want : have < want;
    }
  }
}

/** A `labelSelector` query parameter; throws the real 400 for one the server refuses. */
export function parseLabelSelector(selector: string): Matcher {
  let reqs: Requirement[];
  try {
    reqs = parse(selector);
  } catch (e) {
    if (e instanceof ParseError) throw badRequest(e.message);
    throw e;
  }
  if (reqs.length === 0) return () => true;
  return (o: Obj) => {
    const labels = labelsOf(o);
    return reqs.every((r) => matches(r, labels));
  };
}
