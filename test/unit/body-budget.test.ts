import { describe, expect, it } from "vitest";
import { makeBodyBudget } from "../../injector/admission/body-budget.ts";

describe("the webhook's body budget", () => {
  it("lets the request holding the most give way when the total passes the budget", () => {
    const budget = makeBodyBudget(100);
    const evicted: string[] = [];
    const a = budget.claim(() => evicted.push("a"));
    const b = budget.claim(() => evicted.push("b"));
    const c = budget.claim(() => evicted.push("c"));
    expect(a.add(60)).toBe(true);
    expect(b.add(30)).toBe(true);
    expect(c.add(20)).toBe(true);
    expect(evicted).toEqual(["a"]);
    expect(budget.held()).toBe(50);
    // a gave way: it counts nothing more.
    expect(a.add(1)).toBe(false);
    expect(budget.held()).toBe(50);
  });

  it("refuses the growing request itself when it holds the most, without calling its own eviction", () => {
    const budget = makeBodyBudget(100);
    const evicted: string[] = [];
    const small = budget.claim(() => evicted.push("small"));
    const big = budget.claim(() => evicted.push("big"));
    expect(small.add(10)).toBe(true);
    expect(big.add(95)).toBe(false);
    expect(evicted).toEqual([]);
    expect(budget.held()).toBe(10);
  });

  it("takes released bytes back once, however often release is called", () => {
    const budget = makeBodyBudget(100);
    const a = budget.claim(() => undefined);
    const b = budget.claim(() => undefined);
    a.add(40);
    b.add(40);
    a.release();
    a.release();
    expect(budget.held()).toBe(40);
    b.release();
    expect(budget.held()).toBe(0);
  });
});
