import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { makePodChecker, type PodChecker } from "../../../injector/oracle/podcheck.ts";
import { DrainState, foreignEndpoints, viewsOf, type Answer, type PodRef } from "../../../injector/oracle/state.ts";
import { judge, podFacts, releaseBy, type CheckResult, type PodFacts } from "../../../injector/oracle/termination.ts";

const t0 = Date.parse("2026-03-01T12:00:00Z");

function pod(overrides: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): unknown {
  return {
    metadata: { namespace: "shop", name: "web-0", uid: "u1", ...metadata },
    spec: {
      terminationGracePeriodSeconds: 50,
      containers: [{ name: "web", lifecycle: { preStop: { exec: { command: ["/.lameduck/hook", "wait", "--oracle=10.96.40.7:8080", "--max=20s", "--settle=2s"] } } } }],
      ...overrides,
    },
  };
}

const serving: Answer = { state: DrainState.serving, ports: [8080], nodeName: "node-a", ref: { namespace: "shop", name: "web-0", uid: "u1" } };
const facts = (raw: unknown): PodFacts => {
  const f = podFacts(raw);
  if (f === undefined) throw new Error("not a pod");
  return f;
};

describe("what the oracle reads of a pod it looks up", () => {
  it("its identity, deletion, grace period and the --max of lameduck's wait hook", () => {
    expect(facts(pod({}, { deletionTimestamp: "2026-03-01T12:00:50Z" }))).toEqual({ namespace: "shop", name: "web-0", uid: "u1", deletionTimestamp: "2026-03-01T12:00:50Z", terminationGracePeriodSeconds: 50, hookMaxMs: 20_000 });
  });
  it("no hook maximum for a preStop that is not lameduck's wait", () => {
    expect(facts(pod({ containers: [{ lifecycle: { preStop: { exec: { command: ["/bin/sleep", "wait", "--max=5s"] } } } }] })).hookMaxMs).toBeUndefined();
    expect(facts(pod({ containers: [{ lifecycle: { preStop: { sleep: { seconds: 5 } } } }] })).hookMaxMs).toBeUndefined();
  });
  it("nothing without a name, namespace and uid", () => {
    expect(podFacts({ metadata: { name: "x" } })).toBeUndefined();
  });
});

describe("until when a deleted pod's hook may be held", () => {
  it("a plain deletion gives the hook exactly its --max", () => {
    expect(releaseBy(facts(pod({}, { deletionTimestamp: new Date(t0 + 50_000).toISOString() })))).toBe(t0 + 20_000);
  });
  it("a deletion shortened to 33 s leaves it 3 s, and one of 20 s none", () => {
    expect(releaseBy(facts(pod({}, { deletionTimestamp: new Date(t0 + 33_000).toISOString() })))).toBe(t0 + 3_000);
    expect(releaseBy(facts(pod({}, { deletionTimestamp: new Date(t0 + 20_000).toISOString() })))).toBe(t0 - 10_000);
  });
  it("no bound without a deletion or without lameduck's hook", () => {
    expect(releaseBy(facts(pod()))).toBeUndefined();
    expect(releaseBy(facts(pod({ containers: [] }, { deletionTimestamp: new Date(t0).toISOString() })))).toBeUndefined();
  });
});

describe("what a hook's question gets", () => {
  const answerFor = (): Answer => serving;
  it("a pod not deleted through the API is let go at once, with the reason", () => {
    expect(judge({ kind: "found", pod: facts(pod()) }, answerFor, t0)).toEqual({
      kind: "answer",
      reason: "not-deleted",
      answer: { state: "unselected", ports: [], nodeName: undefined, ref: { namespace: "shop", name: "web-0", uid: "u1" }, reason: "not-deleted" },
    });
  });
  it("a deleted pod is held, until its release time", () => {
    expect(judge({ kind: "found", pod: facts(pod({}, { deletionTimestamp: new Date(t0 + 50_000).toISOString() })) }, answerFor, t0)).toEqual({ kind: "hold", until: t0 + 20_000 });
    expect(judge({ kind: "found", pod: facts(pod({}, { deletionTimestamp: new Date(t0 + 50_000).toISOString() })) }, answerFor, t0 + 20_000)).toMatchObject({ kind: "answer", reason: "grace" });
  });
  it("a pod that left rotation gets the slices' answer, whatever the deletion", () => {
    const drained: Answer = { ...serving, state: DrainState.drained };
    expect(judge({ kind: "found", pod: facts(pod()) }, () => drained, t0)).toEqual({ kind: "answer", answer: drained });
  });
  it("no pod with the uid where the slices say: unselected; the API silent: refused", () => {
    expect(judge({ kind: "absent" }, answerFor, t0)).toMatchObject({ kind: "answer", answer: { state: "unselected" } });
    expect(judge({ kind: "unknown", reason: "timeout" }, answerFor, t0)).toMatchObject({ kind: "refuse" });
  });
});

/** The result `check` knows now, or the one its lookup calls back with. */
function ask(checker: PodChecker, uid: string, claims: readonly PodRef[]): Promise<CheckResult> {
  return new Promise((resolve) => {
    const known = checker.check(uid, claims, (_uid, result) => {
      resolve(result);
    });
    if (known !== undefined) resolve(known);
  });
}

describe("the pod lookup", () => {
  const claim = (namespace: string, name: string, uid = "u1") => ({ namespace, name, uid });
  it("keeps the claim whose pod has the uid, looks each pod up once for concurrent askers, and reuses the result", async () => {
    const calls: string[] = [];
    const checker = makePodChecker({
      registry: new Registry(),
      lookup: (namespace, name) => {
        calls.push(`${namespace}/${name}`);
        return Promise.resolve(name === "web-0" ? pod({}, { namespace }) : namespace === "b" ? pod({}, { namespace, name, uid: "other" }) : undefined);
      },
    });
    const claims = [claim("shop", "web-0"), claim("shop", "decoy"), claim("b", "x")];
    const [one, two] = await Promise.all([ask(checker, "u1", claims), ask(checker, "u1", claims)]);
    expect(one).toMatchObject({ kind: "found", pod: { namespace: "shop", name: "web-0" } });
    expect(two).toBe(one);
    expect(checker.check("u1", claims, () => undefined)).toBe(one);
    expect(calls.sort()).toEqual(["b/x", "shop/decoy", "shop/web-0"]);
  });
  it("no claim verified: absent; too many claims or a failed lookup without a verified one: unknown", async () => {
    const registry = new Registry();
    const failing = makePodChecker({ registry, lookup: () => Promise.reject(new Error("connection refused")) });
    expect(await ask(failing, "u1", [claim("shop", "web-0")])).toEqual({ kind: "unknown", reason: "connection refused" });
    const none = makePodChecker({ registry: new Registry(), lookup: () => Promise.resolve(undefined) });
    expect(await ask(none, "u1", [claim("shop", "web-0")])).toEqual({ kind: "absent" });
    expect(await ask(none, "u2", [1, 2, 3, 4, 5].map((i) => ({ namespace: "a", name: `p${i}`, uid: "u2" })))).toMatchObject({ kind: "unknown" });
    expect(await registry.getSingleMetricAsString("lameduck_oracle_pod_lookups_total")).toContain('result="failed"} 1');
  });
  it("gives up on a GET that takes longer than its timeout; one waiting for the slot runs after it", async () => {
    const checker = makePodChecker({ registry: new Registry(), concurrency: 1, timeoutMs: 100, lookup: (_ns, _name, signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          reject(new Error("aborted"));
        });
      }) });
    const started = Date.now();
    const [a, b] = await Promise.all([ask(checker, "u1", [claim("shop", "a")]), ask(checker, "u3", [claim("shop", "b", "u3")])]);
    expect(a.kind).toBe("unknown");
    expect(b.kind).toBe("unknown");
    expect(Date.now() - started).toBeLessThan(1_000);
  });
  it("runs at most `concurrency` GETs, in the order asked, and tells each listener once per lookup", async () => {
    const answer: (() => void)[] = [];
    const order: string[] = [];
    const checker = makePodChecker({
      registry: new Registry(),
      concurrency: 2,
      lookup: (namespace, name) =>
        new Promise((resolve) => {
          order.push(name);
          answer.push(() => {
            resolve(pod({}, { namespace, name, uid: name }));
          });
        }),
    });
    const told: string[] = [];
    const listener = (uid: string): void => {
      told.push(uid);
    };
    for (const uid of ["p1", "p2", "p3", "p4", "p3"]) expect(checker.check(uid, [claim("shop", uid, uid)], listener)).toBeUndefined();
    await Promise.resolve();
    expect(order).toEqual(["p1", "p2"]);
    while (told.length < 4) {
      answer.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(order).toEqual(["p1", "p2", "p3", "p4"]);
    expect(told).toEqual(["p1", "p2", "p3", "p4"]);
  });
  it("forgets results once they expire, and looks the pod up again", async () => {
    let t = 0;
    let calls = 0;
    const checker = makePodChecker({
      registry: new Registry(),
      now: () => t,
      lookup: (namespace) => {
        calls += 1;
        return Promise.resolve(pod({}, { namespace }));
      },
    });
    const first = await ask(checker, "u1", [claim("shop", "web-0")]);
    t = 4_999;
    expect(checker.check("u1", [claim("shop", "web-0")], () => undefined)).toBe(first);
    t = 5_000;
    expect(await ask(checker, "u1", [claim("shop", "web-0")])).toEqual(first);
    expect(calls).toBe(2);
  });
});

describe("endpoints of other namespaces", () => {
  it("are not views of the slice, and are counted", () => {
    const slice = {
      metadata: { name: "s", namespace: "tenant-a" },
      ports: [{ port: 80 }],
      endpoints: [
        { conditions: { ready: true }, targetRef: { namespace: "tenant-b", name: "victim", uid: "v" } },
        { conditions: { ready: true }, targetRef: { namespace: "tenant-a", name: "own", uid: "o" } },
        { conditions: { ready: true }, targetRef: { name: "implicit", uid: "i" } },
      ],
    };
    expect([...viewsOf(slice).keys()]).toEqual(["o", "i"]);
    expect(viewsOf(slice).get("i")?.ref).toEqual({ namespace: "tenant-a", name: "implicit", uid: "i" });
    expect(foreignEndpoints(slice)).toBe(1);
  });
});
