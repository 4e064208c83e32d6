// Which CPU architecture a pod will run on, as far as admission can know: the node is not chosen
// yet, so only the pod's own scheduling constraints or a single-architecture cluster tell.
import { isObject, type Pod } from "./pod.ts";

const archKey = "kubernetes.io/arch";
const osKey = "kubernetes.io/os";

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The single arch one node selector term allows, or undefined when it allows several or does not say. */
function termArch(term: unknown): string | undefined {
  if (!isObject(term)) return undefined;
  const allowed = new Set<string>();
  let constrained = false;
  for (const expr of list(term["matchExpressions"])) {
    if (!isObject(expr) || expr["key"] !== archKey || expr["operator"] !== "In") continue;
    const values = new Set(list(expr["values"]).filter((v): v is string => typeof v === "string"));
    if (!constrained) {
      for (const v of values) allowed.add(v);
      constrained = true;
    } else {
      // Expressions in one term are ANDed.
      for (const v of allowed) if (!values.has(v)) allowed.delete(v);
    }
  }
  if (!constrained || allowed.size !== 1) return undefined;
  return [...allowed][0];
}

/**
 * The architecture the pod pins itself to, and how: the `kubernetes.io/arch` nodeSelector, else
 * required node affinity when every term (terms are ORed) pins the same single architecture.
 */
export function pinnedArch(pod: Pod): { arch: string; by: string } | undefined {
  const fromSelector = pod.spec?.nodeSelector?.[archKey];
  if (fromSelector !== undefined) return { arch: fromSelector, by: "nodeSelector" };
  const affinity = pod.spec?.affinity;
  if (!isObject(affinity) || !isObject(affinity["nodeAffinity"])) return undefined;
  const required = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
  if (!isObject(required)) return undefined;
  const terms = list(required["nodeSelectorTerms"]);
  if (terms.length === 0) return undefined;
  const archs = new Set(terms.map(termArch));
  if (archs.size !== 1) return undefined;
  const [arch] = [...archs];
  return arch === undefined ? undefined : { arch, by: "node affinity" };
}

/** Windows pods cannot run a Linux binary: they declare it in spec.os or select Windows nodes. */
export function isWindows(pod: Pod): boolean {
  return pod.spec?.os?.name === "windows" || pod.spec?.nodeSelector?.[osKey] === "windows";
}
