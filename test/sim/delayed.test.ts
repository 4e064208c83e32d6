import { describe, expect, it } from "vitest";
import { makeDelayedView, makeKeyedDelayedView } from "./delayed.ts";
import { manualTimers } from "./manualtimers.ts";

describe("the in-order delayed view (whole snapshots, one queue)", () => {
  it("applies a change only after its drawn delay", () => {
    const timers = manualTimers();
    const view = makeDelayedView("a", () => 1000, () => undefined, timers);
    view.offer("b");
    timers.advance(999);
    expect(view.current()).toBe("a");
    timers.advance(1);
    expect(view.current()).toBe("b");
  });

  it("holds a later change back behind an earlier one with a longer delay", () => {
    const timers = manualTimers();
    const delays = [3000, 500];
    const applied: string[] = [];
    const view = makeDelayedView("a", () => delays.shift() ?? 0, (v) => applied.push(v), timers);
    view.offer("b");
    view.offer("c");
    timers.advance(600);
    expect(view.current()).toBe("a");
    timers.advance(2400);
    expect(view.current()).toBe("c");
    expect(applied).toEqual(["b", "c"]);
    expect(view.pending()).toBe(0);
  });
});

const same = (a: string, b: string): boolean => a === b;
const asObject = (m: ReadonlyMap<string, string>): Record<string, string> => Object.fromEntries(m);

describe("the per-endpoint delayed view", () => {
  it("does not hold one key's change back behind another key's change with a longer delay", () => {
    const timers = manualTimers();
    const delays = [3000, 500];
    const view = makeKeyedDelayedView(() => delays.shift() ?? 0, same, () => undefined, timers);
    view.reset(new Map([["a", "ready"], ["b", "ready"]]));
    view.offer(new Map([["a", "terminating"], ["b", "ready"]]));
    view.offer(new Map([["a", "terminating"], ["b", "terminating"]]));
    expect(view.pending()).toBe(2);
    timers.advance(500);
    expect(asObject(view.current())).toEqual({ a: "ready", b: "terminating" });
    timers.advance(2499);
    expect(view.current().get("a")).toBe("ready");
    timers.advance(1);
    expect(asObject(view.current())).toEqual({ a: "terminating", b: "terminating" });
    expect(view.pending()).toBe(0);
  });

  it("applies each change after its own drawn delay, offered at different times", () => {
    const timers = manualTimers();
    const delays = [2000, 1000];
    const view = makeKeyedDelayedView(() => delays.shift() ?? 0, same, () => undefined, timers);
    view.offer(new Map([["a", "ready"]]));
    timers.advance(1500);
    view.offer(new Map([["a", "ready"], ["b", "ready"]]));
    timers.advance(499);
    expect(asObject(view.current())).toEqual({});
    timers.advance(1);
    expect(asObject(view.current())).toEqual({ a: "ready" });
    timers.advance(499);
    expect(view.current().has("b")).toBe(false);
    timers.advance(1);
    expect(asObject(view.current())).toEqual({ a: "ready", b: "ready" });
  });

  it("never takes a key back to an older state when its newer change draws a shorter delay", () => {
    const timers = manualTimers();
    const delays = [3000, 500];
    const applied: string[] = [];
    const view = makeKeyedDelayedView(() => delays.shift() ?? 0, same, (m) => applied.push(m.get("a") ?? "gone"), timers);
    view.reset(new Map([["a", "ready"]]));
    applied.length = 0;
    view.offer(new Map([["a", "terminating"]]));
    view.offer(new Map());
    timers.advance(500);
    expect(view.current().has("a")).toBe(false);
    expect(view.pending()).toBe(0);
    timers.advance(5000);
    expect(view.current().has("a")).toBe(false);
    expect(applied).toEqual(["gone"]);
  });

  it("applies a key's changes in the order they happened when their delays allow it", () => {
    const timers = manualTimers();
    const delays = [500, 1000];
    const applied: string[] = [];
    const view = makeKeyedDelayedView(() => delays.shift() ?? 0, same, (m) => applied.push(m.get("a") ?? "gone"), timers);
    view.offer(new Map([["a", "ready"]]));
    view.offer(new Map([["a", "terminating"]]));
    timers.advance(500);
    expect(applied).toEqual(["ready"]);
    timers.advance(500);
    expect(applied).toEqual(["ready", "terminating"]);
  });

  it("counts only keys whose value changed as changes", () => {
    const timers = manualTimers();
    const view = makeKeyedDelayedView(() => 100, same, () => undefined, timers);
    view.reset(new Map([["a", "ready"], ["b", "ready"]]));
    view.offer(new Map([["b", "ready"], ["a", "ready"]]));
    expect(view.pending()).toBe(0);
    view.offer(new Map([["a", "ready"]]));
    expect(view.pending()).toBe(1);
  });

  it("applies a reset at once and drops every change not applied yet", () => {
    const timers = manualTimers();
    const view = makeKeyedDelayedView(() => 1000, same, () => undefined, timers);
    view.offer(new Map([["a", "ready"], ["b", "ready"]]));
    view.reset(new Map([["c", "ready"]]));
    expect(view.pending()).toBe(0);
    expect(asObject(view.current())).toEqual({ c: "ready" });
    timers.advance(2000);
    expect(asObject(view.current())).toEqual({ c: "ready" });
    // Changes are counted from the reset's state: only a's and b's arrival and c's leaving.
    view.offer(new Map([["a", "ready"]]));
    expect(view.pending()).toBe(2);
  });
});
