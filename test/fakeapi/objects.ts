// Untyped Kubernetes objects as JSON, with small narrowing helpers: the fake stores exactly what
// clients send (unknown fields included), as the real server stores what its schema allows.
export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function obj(value: unknown): Obj {
  return isObj(value) ? value : {};
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function objs(value: unknown): Obj[] {
  return arr(value).filter(isObj);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function meta(o: Obj): Obj {
  return obj(o["metadata"]);
}

export function nameOf(o: Obj): string {
  return str(meta(o)["name"]) ?? "";
}

export function namespaceOf(o: Obj): string {
  return str(meta(o)["namespace"]) ?? "";
}

export function uidOf(o: Obj): string {
  return str(meta(o)["uid"]) ?? "";
}

export function labelsOf(o: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(meta(o)["labels"]))) if (typeof v === "string") out[k] = v;
  return out;
}

/** Deep structural equality of JSON values (key order ignored, as after a decode/encode round trip). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 3339 at second precision, the format of metadata timestamps. */
export function timestamp(ms: number = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** A shallow copy of `o` without `keys`. */
export function omit(o: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (!keys.includes(k)) out[k] = v;
  return out;
}
