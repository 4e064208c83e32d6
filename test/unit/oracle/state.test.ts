import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { makeSliceIndex } from "../../../injector/oracle/slices.ts";
import { answerFrom, formatAnswer, inRotation, viewsOf, type SliceLike } from "../../../injector/oracle/state.ts";

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";
  object: SliceLike;
}

function recording(name: string): { events: WatchEvent[]; victim: string } {
  const dir = new URL("../../fixtures/real/", import.meta.url);
  const events = readFileSync(new URL(`endpointslice-${name}.jsonl`, dir), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as WatchEvent);
  const actions = readFileSync(new URL(`endpointslice-${name}.actions.jsonl`, dir), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { action: string; uid?: string });
  const victim = actions.find((a) => a.action === "delete-grace30-call")?.uid;
  if (victim === undefined) throw new Error(`no victim in ${name}`);
  return { events, victim };
}

/** The victim's answer after each recorded event, consecutive repeats collapsed. */
function replay(name: string): string[] {
  const { events, victim } = recording(name);
  const index = makeSliceIndex();
  const states: string[] = [index.answer(victim).state];
  for (const e of events) {
    if (e.type === "BOOKMARK") continue;
    if (e.type === "DELETED") index.remove(e.object);
    else index.upsert(e.object);
    const state = index.answer(victim).state;
    if (states.at(-1) !== state) states.push(state);
  }
  return states;
}

describe("the drain state of a recorded victim pod", () => {
  it("a ClusterIP service's pod is serving until the delete marks it terminating, and unselected once gone", () => {
    expect(replay("clusterip")).toEqual(["unselected", "drained", "serving", "drained", "unselected"]);
  });
  it("a headless service's pod drains the same way", () => {
    expect(replay("headless")).toEqual(["unselected", "drained", "serving", "drained", "unselected"]);
  });
  it("with publishNotReadyAddresses the pod drains on terminating although ready stays true", () => {
    expect(replay("publishnotready")).toEqual(["unselected", "serving", "drained", "unselected"]);
  });
  it("a pod the kubelet marked unready while terminating stays drained", () => {
    expect(replay("clusterip-kubelet-unready")).toEqual(["unselected", "drained", "serving", "drained", "unselected"]);
  });
  it("reports the container port and the node name from the slice", () => {
    const { events, victim } = recording("clusterip");
    const drained = events.map((e) => e.object).filter((o) => [...viewsOf(o).values()].some((v) => v.ref.uid === victim && !v.inRotation)).at(-1);
    expect(drained).toBeDefined();
    const answer = answerFrom([...viewsOf(drained ?? {}).values()].filter((v) => v.ref.uid === victim));
    expect(answer).toMatchObject({ state: "drained", ports: [8080], nodeName: "node-a", ref: { namespace: "rec-eps-clusterip", uid: victim } });
    expect(formatAnswer(answer, "10.0.0.1")).toBe("drained ports=8080 node=10.0.0.1\n");
    expect(formatAnswer({ ...answer, ports: [] }, undefined)).toBe("drained\n");
  });
});

describe("in rotation", () => {
  it("counts an unknown ready condition as ready, as the API says to", () => {
    expect(inRotation(undefined)).toBe(true);
    expect(inRotation({})).toBe(true);
  });
  it("takes a terminating endpoint out of rotation even when ready", () => {
    expect(inRotation({ ready: true, terminating: true })).toBe(false);
    expect(inRotation({ ready: false })).toBe(false);
    expect(inRotation({ ready: true, terminating: false })).toBe(true);
  });
});

function slice(name: string, ports: number[], endpoints: { uid: string; ready?: boolean; terminating?: boolean; node?: string }[]): SliceLike {
  return {
    metadata: { name, namespace: "shop" },
    ports: ports.map((port) => ({ port, protocol: "TCP" })),
    endpoints: endpoints.map((e, i) => ({
      addresses: [`10.0.0.${i + 1}`],
      conditions: { ready: e.ready ?? true, terminating: e.terminating ?? false },
      ...(e.node === undefined ? {} : { nodeName: e.node }),
      targetRef: { kind: "Pod", namespace: "shop", name: `pod-${e.uid}`, uid: e.uid },
    })),
  };
}

describe("the EndpointSlice index", () => {
  it("serves while any slice lists the pod ready, and merges ports of every listing slice, sorted and unique", () => {
    const index = makeSliceIndex();
    index.upsert(slice("a", [8443, 8080], [{ uid: "p1", node: "n1" }]));
    index.upsert(slice("b", [8080, 9090], [{ uid: "p1", ready: false }]));
    expect(index.answer("p1")).toMatchObject({ state: "serving", ports: [8080, 8443, 9090], nodeName: "n1" });
    index.upsert(slice("a", [8443, 8080], [{ uid: "p1", terminating: true, node: "n1" }]));
    expect(index.answer("p1").state).toBe("drained");
  });
  it("reports exactly the pods a slice change touched", () => {
    const index = makeSliceIndex();
    expect(index.upsert(slice("a", [80], [{ uid: "p1" }, { uid: "p2" }]))).toEqual(["p1", "p2"]);
    expect(index.upsert(slice("a", [80], [{ uid: "p1" }, { uid: "p2", ready: false }]))).toEqual(["p2"]);
    expect(index.upsert(slice("a", [80], [{ uid: "p1" }, { uid: "p3" }]))).toEqual(["p2", "p3"]);
    expect(index.upsert(slice("a", [80], [{ uid: "p1" }, { uid: "p3" }]))).toEqual([]);
    expect(index.upsert(slice("a", [81], [{ uid: "p1" }, { uid: "p3" }]))).toEqual(["p1", "p3"]);
    expect(index.remove(slice("a", [], []))).toEqual(["p1", "p3"]);
    expect(index.pods()).toBe(0);
    expect(index.answer("p1").state).toBe("unselected");
  });
  it("follows a renamed targetRef even when nothing else of the endpoint changed", () => {
    const index = makeSliceIndex();
    const named = (name: string) => ({ metadata: { name: "a", namespace: "shop" }, ports: [{ port: 80 }], endpoints: [{ conditions: { ready: true }, targetRef: { namespace: "shop", name, uid: "p1" } }] });
    index.upsert(named("web-0"));
    expect(index.upsert(named("web-0"))).toEqual([]);
    index.upsert(named("web-1"));
    expect(index.claims("p1")).toEqual([{ namespace: "shop", name: "web-1", uid: "p1" }]);
    expect(index.answer("p1").ref).toEqual({ namespace: "shop", name: "web-1", uid: "p1" });
  });
  it("changes nothing for an update carrying the arrays it last indexed, and compares any new arrays", () => {
    const index = makeSliceIndex();
    const first = slice("a", [80], [{ uid: "p1" }, { uid: "p2" }]);
    index.upsert(first);
    // As the informer hands over an update that changed nothing lameduck reads (leanEndpointSlice given the cached copy).
    const same = { ...first, metadata: { name: "a", namespace: "shop" } };
    expect(index.upsert(same)).toEqual([]);
    // Equal content in new arrays is compared, not skipped: a change is never missed.
    const ended = slice("a", [80], [{ uid: "p1" }, { uid: "p2", terminating: true }]);
    expect(index.upsert(ended)).toEqual(["p2"]);
    expect(index.answer("p2").state).toBe("drained");
    // Removed and listed again with the very same arrays: indexed again.
    index.remove(ended);
    expect(index.upsert(ended)).toEqual(["p1", "p2"]);
  });
  it("keeps a pod listed by another slice when one slice drops it", () => {
    const index = makeSliceIndex();
    index.upsert(slice("v4", [80], [{ uid: "p1" }]));
    index.upsert(slice("v6", [80], [{ uid: "p1" }]));
    index.remove(slice("v4", [], []));
    expect(index.answer("p1").state).toBe("serving");
    expect(index.pods()).toBe(1);
  });
});
