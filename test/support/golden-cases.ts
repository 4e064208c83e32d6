// The golden injection cases of test/fixtures/inject/: `<case>.pod.yaml` holds an optional first
// YAML document (the case's namespace, `lameduck run` flags and cluster facts) and then the pod.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import type { StaticFacts } from "../../injector/offline/static-facts.ts";

export const casesDir = join(import.meta.dirname, "..", "fixtures", "inject");

export interface CaseSetup {
  namespace?: string;
  flags?: string[];
  facts?: Partial<StaticFacts>;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function readCase(file: string): { setup: CaseSetup; pod: Record<string, unknown> } {
  const docs = YAML.parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS() as unknown);
  const pod = docs.at(-1);
  if (!isRecord(pod)) throw new Error(`${file}: the last document is not a pod`);
  const setup = docs.length > 1 ? docs[0] : {};
  if (!isRecord(setup)) throw new Error(`${file}: the first document is not a case setup`);
  return { setup, pod };
}

/** The case names, sorted. */
export function caseNames(): string[] {
  return readdirSync(casesDir)
    .filter((f) => f.endsWith(".pod.yaml"))
    .map((f) => f.slice(0, -".pod.yaml".length))
    .sort();
}

/** The case's facts: YAML has null where the facts have undefined ("not known"). */
export function caseFacts(setup: CaseSetup): Partial<StaticFacts> {
  return Object.fromEntries(Object.entries(setup.facts ?? {}).map(([k, v]) => [k, v ?? undefined]));
}
