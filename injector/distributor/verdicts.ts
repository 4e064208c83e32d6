// What the distributor knows of hook ConfigMaps' content. The cache holds their metadata only: anyone
// may label ConfigMaps as lameduck's, as many and as large as they like. The content that matters —
// the current version's ConfigMap in each namespace — is read with one GET and judged once per
// resourceVersion, or judged from the object the API returned when this replica created it.

export interface Verdicts {
  /** Whether this version of the object was judged intact; undefined when not judged yet. */
  of(cm: { readonly metadata: { readonly uid?: string; readonly resourceVersion?: string } }): boolean | undefined;
  record(cm: { readonly metadata?: { readonly uid?: string; readonly resourceVersion?: string } }, intact: boolean): void;
  forget(uid: string | undefined): void;
}

export function makeVerdicts(): Verdicts {
  const byUid = new Map<string, { readonly resourceVersion: string | undefined; readonly intact: boolean }>();
  return {
    of(cm) {
      const v = byUid.get(cm.metadata.uid ?? "");
      return v !== undefined && v.resourceVersion === cm.metadata.resourceVersion ? v.intact : undefined;
    },
    record(cm, intact) {
      const uid = cm.metadata?.uid;
      if (uid !== undefined) byUid.set(uid, { resourceVersion: cm.metadata?.resourceVersion, intact });
    },
    forget(uid) {
      if (uid !== undefined) byUid.delete(uid);
    },
  };
}
