// CEL as kube-apiserver evaluates it in admission (matchConditions, MutatingAdmissionPolicy
// variables and mutations), on @bufbuild/cel, a conformance-tested evaluator. Kubernetes adds
// libraries to standard CEL; the fake registers the ones lameduck's expressions use: the strings
// extension (cel-go ext.Strings), the list library's indexOf (k8s.io/apiserver/pkg/cel/library
// lists.go), jsonpatch.escapeKey and the JSONPatch type (mutating admission policy). An expression
// that needs anything else fails with CelUnsupported, naming what is missing: never silently true.
import { celEnv, celFunc, celMethod, CelScalar, isCelError, isCelList, isCelMap, listType, parse, plan, type CelInput, type CelValue } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { create, createFileRegistry, toJson, type JsonValue } from "@bufbuild/protobuf";
import { isReflectMessage } from "@bufbuild/protobuf/reflect";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema, file_google_protobuf_struct } from "@bufbuild/protobuf/wkt";
import { isObj } from "./objects.ts";

/** The fake cannot evaluate this expression (a syntax error, or a function or type it lacks). */
export class CelUnsupported extends Error {}
/** A runtime error in the expression (e.g. a missing key), which the real server treats per failurePolicy. */
export class CelError extends Error {}

/** admissionregistration's JSONPatch CEL type: op, from, path and a value of any JSON type. */
const jsonPatchFile = create(FileDescriptorProtoSchema, {
  name: "lameduck-fake/jsonpatch.proto",
  syntax: "proto3",
  dependency: ["google/protobuf/struct.proto"],
  messageType: [{
    name: "JSONPatch",
    field: [
      ...["op", "from", "path"].map((name, i) => ({ name, jsonName: name, number: i + 1, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL })),
      { name: "value", jsonName: "value", number: 4, type: FieldDescriptorProto_Type.MESSAGE, typeName: ".google.protobuf.Value", label: FieldDescriptorProto_Label.OPTIONAL },
    ],
  }],
});
const registry = createFileRegistry(jsonPatchFile, (name) => (name === "google/protobuf/struct.proto" ? file_google_protobuf_struct : undefined));

/** RFC 6901 escaping, as Kubernetes' jsonpatch.escapeKey: `~` → `~0`, `/` → `~1`. */
const escapeKey = celFunc("jsonpatch.escapeKey", [CelScalar.STRING], CelScalar.STRING, (key) => key.replaceAll("~", "~0").replaceAll("/", "~1"));
const indexOf = celMethod("indexOf", listType(CelScalar.DYN), [CelScalar.DYN], CelScalar.INT, function (this: CelValue, wanted: CelValue) {
  let i = 0n;
  if (!isCelList(this)) return -1n;
  for (const item of this) {
    if (same(item, wanted)) return i;
    i += 1n;
  }
  return -1n;
});

const env = celEnv({ registry, funcs: [...strings, escapeKey, indexOf] });

function same(a: CelValue, b: CelValue): boolean {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return a === b;
  return JSON.stringify(fromCel(a)) === JSON.stringify(fromCel(b));
}

/** JSON as Kubernetes types it: whole numbers are int (the API's integer fields), objects are maps. */
export function toCel(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map(toCel);
  if (isObj(value)) return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  throw new CelError(`cannot convert ${typeof value} to CEL`);
}

/** A CEL result as JSON: ints as numbers, maps as objects, JSONPatch values as {op, path, value}. */
export function fromCel(value: CelValue): JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number") return value;
  if (isCelList(value)) return [...value].map(fromCel);
  if (isCelMap(value)) {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of value) out[typeof k === "object" ? k.value.toString() : String(k)] = fromCel(v);
    return out;
  }
  if (isReflectMessage(value)) return toJson(value.desc, value.message);
  throw new CelError(`cannot convert a CEL ${typeof value} to JSON`);
}

const missing = /^(unbound function|unknown type|unresolved attribute|undeclared reference)/;

type Program = (vars: Record<string, CelInput>) => unknown;
/** Planned programs by source, as the real server compiles a configuration's expressions once. */
const programs = new Map<string, Program>();
const maxPrograms = 512;

function program(src: string): Program {
  const known = programs.get(src);
  if (known !== undefined) return known;
  let run: Program;
  try {
    run = plan(env, parse(src));
  } catch (e) {
    throw new CelUnsupported(`${e instanceof Error ? e.message : String(e)} in ${src}`);
  }
  if (programs.size >= maxPrograms) programs.clear();
  programs.set(src, run);
  return run;
}

/** Compiles an expression; throws CelUnsupported when it cannot be parsed. */
export function compileCelValue(src: string): (vars: Record<string, unknown>) => CelValue {
  const run = program(src);
  return (vars) => {
    const bound: Record<string, CelInput> = {};
    for (const [k, v] of Object.entries(vars)) bound[k] = isBound(v) ? v : toCel(v);
    const result = run(bound);
    if (isCelError(result)) {
      if (missing.test(result.message)) throw new CelUnsupported(`${result.message} (the fake's CEL environment lacks it) in ${src}`);
      throw new CelError(result.message);
    }
    return result as CelValue;
  };
}

/** Values already converted (e.g. the `variables` map of a policy) pass as they are. */
function isBound(v: unknown): v is CelInput {
  return v === null || v instanceof Map || isCelMap(v);
}

/** Compiles a boolean expression (a matchCondition). */
export function compileCel(src: string): (vars: Record<string, unknown>) => boolean {
  const evaluate = compileCelValue(src);
  return (vars) => {
    const result = evaluate(vars);
    if (typeof result !== "boolean") throw new CelError(`expected a bool, got ${JSON.stringify(fromCel(result))}`);
    return result;
  };
}
