// EndpointSlices indexed by the pods they list (targetRef.uid). Each add, update or delete touches
// only the uids of that one slice, before and after, and reports which pods' answers may have
// changed; a request never scans the slices.
import { answerFrom, viewsOf, type Answer, type EndpointView, type SliceLike } from "./state.ts";

export interface SliceIndex {
  /** Records a slice's new content; returns the uids whose views changed. */
  upsert(slice: SliceLike): readonly string[];
  remove(slice: SliceLike): readonly string[];
  answer(uid: string): Answer;
  /** Pods listed by at least one slice. */
  pods(): number;
}

function keyOf(slice: SliceLike): string {
  return `${slice.metadata?.namespace ?? ""}/${slice.metadata?.name ?? ""}`;
}

function sameView(a: EndpointView, b: EndpointView): boolean {
  return a.inRotation === b.inRotation && a.nodeName === b.nodeName && a.ports.length === b.ports.length && a.ports.every((p, i) => p === b.ports[i]);
}

const nothing: ReadonlyMap<string, EndpointView> = new Map();

export function makeSliceIndex(): SliceIndex {
  const bySlice = new Map<string, Map<string, EndpointView>>();
  const byUid = new Map<string, Map<string, EndpointView>>();

  const replace = (key: string, next: Map<string, EndpointView> | undefined): string[] => {
    const previous = bySlice.get(key) ?? nothing;
    const changed: string[] = [];
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
        byUid.get(uid)?.set(key, view);
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
    else bySlice.set(key, next);
    return changed;
  };

  return {
    upsert: (slice) => replace(keyOf(slice), viewsOf(slice)),
    remove: (slice) => replace(keyOf(slice), undefined),
    answer: (uid) => answerFrom(byUid.get(uid)?.values() ?? []),
    pods: () => byUid.size,
  };
}
