// The facts feed (injector/admission/facts-feed.ts) and the mirror it keeps (facts-mirror.ts): a
// mirror fed the snapshot and then every update answers as the real facts do, and the feed sends only
// what changed, once per tick.
import type { V1ConfigMap, V1Namespace } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { makeFactsFeed, namespaceFacts } from "../../injector/admission/facts-feed.ts";
import { makeFactsMirror, type FactsUpdate } from "../../injector/admission/facts-mirror.ts";
import type { ClusterFacts } from "../../injector/facts.ts";
import { manualInformer } from "../support/informer.ts";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Real-shaped facts over hand-filled informers: a namespace has the hook when a ConfigMap named "hook" is in it. */
function world() {
  const namespaces = manualInformer<V1Namespace>([{ metadata: { name: "shop", labels: { team: "a" } } }, { metadata: { name: "bank" } }]);
  const configMaps = manualInformer<V1ConfigMap>([{ metadata: { name: "hook", namespace: "shop" } }]);
  const globals = { nativeSleep: true, architectures: new Set(["amd64"]) as ReadonlySet<string>, oracleAddress: "10.96.40.7:8080" as string | undefined, hash: "3f2a9c1e" };
  // Changes that come without an event, as a safety net's test needs.
  const hidden = new Set<string>();
  const facts: ClusterFacts = {
    nativeSleep: () => globals.nativeSleep,
    nodeArchitectures: () => globals.architectures,
    oracleAddress: () => globals.oracleAddress,
    currentHookHash: () => globals.hash,
    hookConfigMap: (ns) => (configMaps.get("hook", ns) === undefined || hidden.has(ns) ? undefined : { name: `lameduck-hook-${globals.hash}`, hash: globals.hash }),
    namespace: (name) => namespaces.get(name),
  };
  const feed = makeFactsFeed({ facts, namespaces, configMaps });
  const sent: FactsUpdate[] = [];
  const unsubscribe = feed.onUpdate((u) => sent.push(u));
  return { namespaces, configMaps, globals, hidden, facts, feed, sent, unsubscribe };
}

/** The mirror's view of each namespace, in namespaceFacts() form. */
function view(facts: ClusterFacts, names: readonly string[]) {
  return Object.fromEntries(names.map((n) => [n, namespaceFacts(facts, n)]));
}

describe("the facts feed", () => {
  it("gives a new thread a snapshot that makes its mirror answer as the real facts do", () => {
    const w = world();
    const mirror = makeFactsMirror();
    for (const update of w.feed.snapshot()) mirror.apply(structuredClone(update));
    const names = ["shop", "bank", "nowhere"];
    expect(view(mirror.facts, names)).toEqual(view(w.facts, names));
    expect(mirror.facts.namespace("shop")?.metadata?.labels).toEqual({ team: "a" });
    expect(mirror.facts.namespace("nowhere")).toBeUndefined();
    expect([...mirror.facts.nodeArchitectures()]).toEqual(["amd64"]);
    expect(mirror.facts.nativeSleep()).toBe(true);
    expect(mirror.facts.oracleAddress()).toBe("10.96.40.7:8080");
    expect(mirror.facts.currentHookHash()).toBe("3f2a9c1e");
  });

  it("sends one update per tick with only the namespaces that changed, and none for an event that changed nothing", async () => {
    const w = world();
    w.namespaces.put({ metadata: { name: "shop", labels: { team: "b" } } });
    w.namespaces.put({ metadata: { name: "shop", labels: { team: "c" } } });
    w.configMaps.put({ metadata: { name: "hook", namespace: "bank" } });
    expect(w.sent).toEqual([]);
    await tick();
    expect(w.sent).toEqual([{
      kind: "namespaces", reset: false, remove: [],
      set: [["shop", { present: true, labels: { team: "c" }, hook: { name: "lameduck-hook-3f2a9c1e", hash: "3f2a9c1e" } }], ["bank", { present: true, hook: { name: "lameduck-hook-3f2a9c1e", hash: "3f2a9c1e" } }]],
    }]);
    // A resync delivers the same objects again: nothing to send.
    w.namespaces.put({ metadata: { name: "shop", labels: { team: "c" } } });
    await tick();
    expect(w.sent).toHaveLength(1);
  });

  it("keeps a mirror equal to the real facts through adds, changes and deletions", async () => {
    const w = world();
    const mirror = makeFactsMirror();
    for (const update of w.feed.snapshot()) mirror.apply(structuredClone(update));
    w.feed.onUpdate((u) => { mirror.apply(structuredClone(u)); });
    const names = ["shop", "bank", "new"];
    w.namespaces.put({ metadata: { name: "new", annotations: { "lameduck.dev/max": "1m" } } });
    w.configMaps.remove("hook", "shop");
    await tick();
    expect(view(mirror.facts, names)).toEqual(view(w.facts, names));
    w.namespaces.remove("bank");
    await tick();
    expect(mirror.facts.namespace("bank")).toBeUndefined();
    expect(view(mirror.facts, names)).toEqual(view(w.facts, names));
    expect(w.sent.at(-1)).toEqual({ kind: "namespaces", reset: false, set: [], remove: ["bank"] });
  });

  it("finds on recheck a change that came without an event", async () => {
    const w = world();
    // The first recheck sends what only the snapshot told: the feed does not track snapshots.
    w.feed.recheck();
    await tick();
    w.sent.length = 0;
    w.feed.recheck();
    await tick();
    expect(w.sent).toEqual([]);
    w.hidden.add("shop");
    w.feed.recheck();
    await tick();
    expect(w.sent).toEqual([{ kind: "namespaces", reset: false, remove: [], set: [["shop", { present: true, labels: { team: "a" } }]] }]);
  });

  it("reports the globals once, and again only when one changed", () => {
    const w = world();
    expect(w.feed.globalsIfChanged()).toEqual({ kind: "globals", nativeSleep: true, architectures: ["amd64"], oracleAddress: "10.96.40.7:8080", currentHookHash: "3f2a9c1e" });
    expect(w.feed.globalsIfChanged()).toBeUndefined();
    // A snapshot for a new thread does not count as telling the running ones.
    w.feed.snapshot();
    w.globals.architectures = new Set(["amd64", "arm64"]);
    expect(w.feed.globalsIfChanged()).toMatchObject({ architectures: ["amd64", "arm64"] });
    expect(w.feed.globalsIfChanged()).toBeUndefined();
    w.globals.oracleAddress = undefined;
    const update = w.feed.globalsIfChanged();
    expect(update).toEqual({ kind: "globals", nativeSleep: true, architectures: ["amd64", "arm64"], currentHookHash: "3f2a9c1e" });
    const mirror = makeFactsMirror();
    if (update !== undefined) mirror.apply(structuredClone(update));
    expect(mirror.facts.oracleAddress()).toBeUndefined();
  });

  it("keeps the mirror's architectures the same Set until the next globals update", () => {
    const mirror = makeFactsMirror();
    mirror.apply({ kind: "globals", nativeSleep: false, architectures: ["arm64"] });
    const first = mirror.facts.nodeArchitectures();
    expect(mirror.facts.nodeArchitectures()).toBe(first);
    mirror.apply({ kind: "globals", nativeSleep: false, architectures: ["arm64"] });
    expect(mirror.facts.nodeArchitectures()).not.toBe(first);
  });

  it("sends nothing to a listener that unsubscribed", async () => {
    const w = world();
    w.unsubscribe();
    w.namespaces.put({ metadata: { name: "other" } });
    await tick();
    expect(w.sent).toEqual([]);
  });
});
