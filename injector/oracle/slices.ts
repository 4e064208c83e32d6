// EndpointSlices indexed by the pods they list (targetRef.uid). Each add, update or delete touches
// only the uids of that one slice, before and after, and reports which pods' answers may have
// changed; a request never scans the slices.
import { answerFrom, foreignEndpoints, viewsOf, type Answer, type EndpointView, type PodRef, type SliceLike } from "./state.ts";

export interface SliceIndex {
  /** Records a slice's new content; returns the uids whose views changed. */
  upsert(slice: SliceLike): readonly string[];
  remove(slice: SliceLike): readonly string[];
  /** From every slice that lists the uid, or only those naming the pod `only` (a pod the API confirmed). */
  answer(uid: string, only?: { readonly namespace: string; readonly name: string }): Answer;
  /** The distinct pods (namespace, name) the slices claim have this uid. */
  claims(uid: string): readonly PodRef[];
  /** Pods listed by at least one slice. */
  pods(): number;
  /** Endpoints ignored right now because their targetRef names a pod of another namespace. */
  foreign(): number;
  /** Called with a slice's key when it first lists a pod of another namespace. */
  onForeign(cb: (namespace: string, name: string, count: number) => void): void;
}

function keyOf(slice: SliceLike): string {
  return `${slice.metadata?.namespace ?? ""}/${slice.metadata?.name ?? ""}`;
}

function sameView(a: EndpointView, b: EndpointView): boolean {
  return a.inRotation === b.inRotation && a.nodeName === b.nodeName && a.ports.length === b.ports.length && a.ports.every((p, i) => p === b.ports[i]);
}

function sameRef(a: PodRef, b: PodRef): boolean {
  return a.namespace === b.namespace && a.name === b.name && a.uid === b.uid;
}

const nothing: ReadonlyMap<string, EndpointView> = new Map();

export function makeSliceIndex(): SliceIndex {
  const bySlice = new Map<string, Map<string, EndpointView>>();
  const byUid = new Map<string, Map<string, EndpointView>>();
  const foreignBySlice = new Map<string, number>();
  let foreignTotal = 0;
  const foreignHandlers: ((namespace: string, name: string, count: number) => void)[] = [];
  const countForeign = (slice: SliceLike, key: string, next: number): void => {
    const before = foreignBySlice.get(key) ?? 0;
    if (before === next) return;
    foreignTotal += next - before;
    if (next === 0) foreignBySlice.delete(key);
    else foreignBySlice.set(key, next);
    if (before === 0) for (const cb of foreignHandlers) cb(slice.metadata?.namespace ?? "", slice.metadata?.name ?? "", next);
  };

  // The endpoints and ports arrays each slice was last indexed from: the informer keeps a slice's
  // arrays when an update leaves them unchanged (leanEndpointSlice given the cached copy), and then
  // nothing here can change.
  const indexedFrom = new Map<string, readonly [SliceLike["endpoints"], SliceLike["ports"]]>();
  const replace = (key: string, next: Map<string, EndpointView> | undefined): string[] => {
    const previous = bySlice.get(key) ?? nothing;
    const changed: string[] = [];
    let kept = 0;
    for (const [uid] of previous) {
      if (next?.has(uid) === true) continue;
      const entries = byUid.get(uid);
      entries?.delete(key);
      if (entries?.size === 0) byUid.delete(uid);
      changed.push(uid);
    }
    for (const [uid, view] of next ?? nothing) {
      const before = previous.get(uid);
      if (before !== undefined && sameView(before, view)) {
        // The view already indexed stays: a slice update rewrites every endpoint while changing one,
        // and keeping the new copies would carry them all into the old generation.
        if (sameRef(before.ref, view.ref)) {
          next?.set(uid, before);
          kept += 1;
        } else {
          byUid.get(uid)?.set(key, view);
        }
        continue;
      }
      let entries = byUid.get(uid);
      if (entries === undefined) {
        entries = new Map();
        byUid.set(uid, entries);
      }
      entries.set(key, view);
      changed.push(uid);
    }
    if (next === undefined || next.size === 0) bySlice.delete(key);
    else if (kept !== previous.size || kept !== next.size) bySlice.set(key, next);
    return changed;
  };

  return {
    upsert: (slice) => {
      const key = keyOf(slice);
      const from = indexedFrom.get(key);
      if (from !== undefined && from[0] === slice.endpoints && from[1] === slice.ports) return [];
      indexedFrom.set(key, [slice.endpoints, slice.ports]);
      countForeign(slice, key, foreignEndpoints(slice));
      return replace(key, viewsOf(slice));
    },
    remove: (slice) => {
      const key = keyOf(slice);
      indexedFrom.delete(key);
      countForeign(slice, key, 0);
      return replace(key, undefined);
    },
    answer(uid, only) {
      const views = byUid.get(uid)?.values() ?? [];
      if (only === undefined) return answerFrom(views);
      return answerFrom([...views].filter((v) => v.ref.namespace === only.namespace && v.ref.name === only.name));
    },
    claims(uid) {
      const refs = new Map<string, PodRef>();
      for (const view of byUid.get(uid)?.values() ?? []) refs.set(`${view.ref.namespace}/${view.ref.name}`, view.ref);
      return [...refs.values()];
    },
    pods: () => byUid.size,
    foreign: () => foreignTotal,
    onForeign(cb) {
      foreignHandlers.push(cb);
    },
  };
}
