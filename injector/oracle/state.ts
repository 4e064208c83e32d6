// The oracle's answer about one pod, as a pure function of the EndpointSlice endpoints that list it.

/** The fields of a discovery.k8s.io/v1 EndpointSlice the oracle reads (V1EndpointSlice fits). */
export interface SliceLike {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly ports?: readonly { readonly port?: number }[];
  readonly endpoints?: readonly {
    readonly conditions?: { readonly ready?: boolean; readonly terminating?: boolean };
    readonly nodeName?: string;
    readonly targetRef?: { readonly namespace?: string; readonly name?: string; readonly uid?: string };
  }[];
}

export const DrainState = { serving: "serving", drained: "drained", unselected: "unselected" } as const;
export type DrainState = (typeof DrainState)[keyof typeof DrainState];

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** What one slice says about one pod. */
export interface EndpointView {
  /** Some endpoint of the pod in this slice takes new connections. */
  readonly inRotation: boolean;
  readonly nodeName: string | undefined;
  /** The slice's port numbers (the container ports behind the Service ports). */
  readonly ports: readonly number[];
  readonly ref: PodRef;
}

export interface Answer {
  readonly state: DrainState;
  readonly ports: readonly number[];
  readonly nodeName: string | undefined;
  /** The pod as the slices name it, for Events; undefined when no slice lists it. */
  readonly ref: PodRef | undefined;
  /** Why the answer is not what the slices alone say (the `reason=` token). */
  readonly reason?: string;
}

/**
 * In rotation = ready and not terminating. A nil `ready` means unknown, which the API says to
 * read as ready. `terminating` is checked on its own because with publishNotReadyAddresses the
 * endpoint stays ready=true while the pod terminates (recorded: endpointslice-publishnotready).
 */
export function inRotation(conditions: { ready?: boolean; terminating?: boolean } | undefined): boolean {
  return conditions?.ready !== false && conditions?.terminating !== true;
}

/**
 * An endpoint is evidence only about a pod of the slice's own namespace: the EndpointSlice and
 * mirroring controllers never write another, and anyone who may create EndpointSlices in a namespace
 * could otherwise hold or release another tenant's hooks and add ports to its quiet phase.
 */
function foreign(slice: SliceLike, ref: { readonly namespace?: string }): boolean {
  return ref.namespace !== undefined && ref.namespace !== (slice.metadata?.namespace ?? "");
}

/** Endpoints whose targetRef names a pod of another namespace: ignored, and counted. */
export function foreignEndpoints(slice: SliceLike): number {
  let n = 0;
  for (const endpoint of slice.endpoints ?? []) if (endpoint.targetRef !== undefined && foreign(slice, endpoint.targetRef)) n += 1;
  return n;
}

/** Every pod of its own namespace a slice lists, keyed by targetRef.uid; several endpoints of one pod are merged. */
export function viewsOf(slice: SliceLike): Map<string, EndpointView> {
  const views = new Map<string, EndpointView>();
  const ports = [...new Set((slice.ports ?? []).flatMap((p) => (p.port === undefined ? [] : [p.port])))].sort((a, b) => a - b);
  for (const endpoint of slice.endpoints ?? []) {
    const ref = endpoint.targetRef;
    const uid = ref?.uid;
    if (ref === undefined || uid === undefined || uid === "" || foreign(slice, ref)) continue;
    const previous = views.get(uid);
    views.set(uid, {
      inRotation: (previous?.inRotation ?? false) || inRotation(endpoint.conditions),
      nodeName: previous?.nodeName ?? endpoint.nodeName,
      ports,
      ref: previous?.ref ?? { namespace: slice.metadata?.namespace ?? "", name: ref.name ?? "", uid },
    });
  }
  return views;
}

export function answerFrom(views: Iterable<EndpointView>): Answer {
  let listed = false;
  let serving = false;
  let nodeName: string | undefined;
  let ref: PodRef | undefined;
  const ports = new Set<number>();
  for (const view of views) {
    listed = true;
    serving ||= view.inRotation;
    nodeName ??= view.nodeName;
    ref ??= view.ref;
    for (const p of view.ports) ports.add(p);
  }
  const state = !listed ? DrainState.unselected : serving ? DrainState.serving : DrainState.drained;
  return { state, ports: [...ports].sort((a, b) => a - b), nodeName, ref };
}

/** The protocol line: `state[ ports=a,b][ node=IP][ reason=word]\n`. */
export function formatAnswer(answer: Answer, nodeAddress: string | undefined): string {
  let line: string = answer.state;
  if (answer.ports.length > 0) line += ` ports=${answer.ports.join(",")}`;
  if (nodeAddress !== undefined && nodeAddress !== "") line += ` node=${nodeAddress}`;
  if (answer.reason !== undefined) line += ` reason=${answer.reason}`;
  return `${line}\n`;
}
