// The LabelSelector object (matchLabels, matchExpressions) of webhook configurations and the map
// selector of Services; the query-string selectors are in labels.ts and fields.ts.
import type { Obj } from "./objects.ts";
import { labelsOf, obj, isObj } from "./objects.ts";

export type Matcher = (o: Obj) => boolean;

type Test = (value: string | undefined) => boolean;

/** Matches a `matchLabels`/`matchExpressions` LabelSelector object (webhooks, services use the map form). */
export function labelSelectorObject(selector: unknown): Matcher {
  if (!isObj(selector)) return () => true;
  const tests: [string, Test][] = [];
  for (const [k, v] of Object.entries(obj(selector["matchLabels"]))) tests.push([k, (value) => value === String(v)]);
  for (const e of Array.isArray(selector["matchExpressions"]) ? selector["matchExpressions"] : []) {
    const x = obj(e);
    const values = Array.isArray(x["values"]) ? x["values"].map(String) : [];
    const key = String(x["key"]);
    if (x["operator"] === "In") tests.push([key, (value) => value !== undefined && values.includes(value)]);
    else if (x["operator"] === "NotIn") tests.push([key, (value) => value === undefined || !values.includes(value)]);
    else if (x["operator"] === "Exists") tests.push([key, (value) => value !== undefined]);
    else if (x["operator"] === "DoesNotExist") tests.push([key, (value) => value === undefined]);
  }
  return (o) => {
    const labels = labelsOf(o);
    return tests.every(([key, test]) => test(labels[key]));
  };
}
