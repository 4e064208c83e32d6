// Effective settings for one pod: the pod's annotations, then its namespace's labels and annotations,
// then the process configuration. A value lameduck cannot parse is reported (it ends up in the
// AdmissionReview's `warnings`, which kubectl prints) and the next source's value is used: lameduck
// never rejects a pod.
import { Mode, NamespaceSelection, type Defaults, type RunConfig } from "../config.ts";
import { formatDuration, parseDuration } from "../duration.ts";
import { Annotation, Label } from "../names.ts";
import { namespaceInjected, NamespaceSkipReason, type NamespaceLike } from "../namespace-policy.ts";

/** The part of the process configuration the mutation reads. */
export type Policy = Pick<RunConfig, "defaults" | "namespaceSelection" | "excludedNamespaces" | "maxGracePeriodSeconds" | "hookSource">;

/** One pod's effective settings: the process defaults with the pod's and namespace's overrides. */
export type Settings = Defaults;

export const SkipReason = {
  excludedNamespace: NamespaceSkipReason.excluded,
  podOptOut: "pod-opt-out",
  namespaceOptOut: NamespaceSkipReason.optOut,
  namespaceNotOptedIn: NamespaceSkipReason.notOptedIn,
  mirrorPod: "mirror-pod",
  alreadyInjected: "already-injected",
  allHavePreStop: "all-containers-have-prestop",
  windowsWithoutNativeSleep: "windows-without-native-sleep",
  noHookForArch: "no-hook-for-arch",
  hookVersionUnknown: "hook-version-unknown",
  notPodCreate: "not-pod-create",
  unreadablePod: "unreadable-pod",
  /** More containers than lameduck patches (decide.ts, maxContainers). */
  tooManyContainers: "too-many-containers",
  /** A body larger than lameduck parses (admission/body.ts, maxReviewBytes). */
  reviewTooLarge: "review-too-large",
  /** The informer caches are not synced: decisions from them would be wrong. */
  notReady: "not-ready",
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

export type Resolution =
  | { readonly inject: false; readonly reason: SkipReason; readonly warnings: readonly string[] }
  | { readonly inject: true; readonly settings: Settings; readonly warnings: readonly string[] };

interface Source {
  readonly where: string;
  readonly values: Readonly<Record<string, string>> | undefined;
}

/** AdmissionReview warnings are shown one per line by kubectl: keep them short and on one line. */
export function warningText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = text.replace(/[\u0000-\u001f\u007f]+/g, " ");
  return oneLine.length <= 119 ? oneLine : `${oneLine.slice(0, 118)}…`;
}

function shown(value: string): string {
  const clean = JSON.stringify(value.length > 32 ? `${value.slice(0, 31)}…` : value);
  return clean;
}

/**
 * The first source that sets `key` and holds a value `parse` accepts; each value it skips on the
 * way becomes a warning naming the annotation, the value and what was used instead.
 */
function pick<T>(
  key: string,
  sources: readonly Source[],
  parse: (text: string) => T | undefined,
  fallback: T,
  render: (value: T) => string,
  warnings: string[],
): T {
  const rejected: { where: string; text: string }[] = [];
  let chosen: T = fallback;
  for (const source of sources) {
    const text = source.values?.[key];
    if (text === undefined) continue;
    const value = parse(text);
    if (value !== undefined) {
      chosen = value;
      break;
    }
    rejected.push({ where: source.where, text });
  }
  for (const { where, text } of rejected) {
    warnings.push(warningText(`lameduck: ${key}=${shown(text)} on the ${where} is invalid; using ${render(chosen)}`));
  }
  return chosen;
}

function durationValue(text: string): number | undefined {
  const parsed = parseDuration(text);
  return parsed.ok ? parsed.ms : undefined;
}

function modeValue(text: string): Mode | undefined {
  return text === Mode.wait || text === Mode.sleep ? text : undefined;
}

function boolValue(text: string): boolean | undefined {
  if (text === "true") return true;
  if (text === "false") return false;
  return undefined;
}

export function resolvePolicy(
  podAnnotations: Readonly<Record<string, string>> | undefined,
  namespaceName: string,
  namespace: NamespaceLike | undefined,
  policy: Policy,
): Resolution {
  const warnings: string[] = [];
  if (policy.excludedNamespaces.includes(namespaceName)) return { inject: false, reason: SkipReason.excludedNamespace, warnings };
  const pod: Source = { where: "pod", values: podAnnotations };
  // Settings (mode, max, ...) may sit in the namespace's labels or annotations, the label first;
  // the on/off switch is the label alone (see injector/namespace-policy.ts).
  const nsLabels: Source = { where: "namespace", values: namespace?.metadata?.labels };
  const nsSources: Source[] = [nsLabels, { where: "namespace", values: namespace?.metadata?.annotations }];

  const podInject = pick(Annotation.inject, [pod], boolValue, undefined, () => "the namespace's setting", warnings);
  if (podInject === false) return { inject: false, reason: SkipReason.podOptOut, warnings };
  const nsDefault = policy.namespaceSelection === NamespaceSelection.optIn ? "not injected (opt-in)" : "injected (opt-out)";
  // Only for its warning on a value that is neither "true" nor "false".
  pick(Label.inject, [nsLabels], boolValue, undefined, () => nsDefault, warnings);
  const nsDecision = namespaceInjected(namespaceName, namespace, policy);
  if (!nsDecision.inject) return { inject: false, reason: nsDecision.reason, warnings };

  const sources = [pod, ...nsSources];
  const d: Defaults = policy.defaults;
  const duration = (key: string, fallback: number): number => pick(key, sources, durationValue, fallback, formatDuration, warnings);
  const settings: Settings = {
    mode: pick(Annotation.mode, sources, modeValue, d.mode, (m) => m, warnings),
    maxMs: duration(Annotation.max, d.maxMs),
    settleMs: duration(Annotation.settle, d.settleMs),
    quietMs: duration(Annotation.quiet, d.quietMs),
    fallbackMs: d.fallbackMs,
    sleepMs: duration(Annotation.sleep, d.sleepMs),
    drain: pick(Annotation.drain, sources, boolValue, d.drain, String, warnings),
  };
  return { inject: true, settings, warnings };
}
