import { describe, expect, it } from "vitest";
import { makeWorkQueue, type Schedule } from "../../../injector/distributor/queue.ts";

/** A schedule the test fires by hand. */
function manualSchedule(): { schedule: Schedule; pending: { fn: () => void; ms: number; cancelled: boolean }[]; fireAll(): void } {
  const pending: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  return {
    pending,
    schedule: (fn, ms) => {
      const entry = { fn, ms, cancelled: false };
      pending.push(entry);
      return {
        cancel: () => {
          entry.cancelled = true;
        },
      };
    },
    fireAll() {
      for (const e of pending.splice(0)) if (!e.cancelled) e.fn();
    },
  };
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("the work queue", () => {
  it("processes a key added many times while waiting only once", async () => {
    const seen: string[] = [];
    const gate = deferred();
    const q = makeWorkQueue({
      concurrency: 1,
      worker: async (key) => {
        seen.push(key);
        if (key === "first") await gate.promise;
      },
    });
    q.add("first");
    for (let i = 0; i < 100; i++) q.add("shop");
    q.add("blog");
    gate.resolve();
    await q.idle();
    expect(seen).toEqual(["first", "shop", "blog"]);
  });

  it("runs a key again when it was added while being processed, never twice at once", async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const gate = deferred();
    const q = makeWorkQueue({
      concurrency: 4,
      worker: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        runs++;
        if (runs === 1) await gate.promise;
        running--;
      },
    });
    q.add("shop");
    await Promise.resolve();
    q.add("shop");
    q.add("shop");
    gate.resolve();
    await q.idle();
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it("retries a failing key with growing delays and forgets the failures after a success", async () => {
    const manual = manualSchedule();
    let attempts = 0;
    const errors: number[] = [];
    const q = makeWorkQueue({
      concurrency: 1,
      schedule: manual.schedule,
      retry: { baseMs: 10, maxMs: 35 },
      onError: (_key, _err, failures) => errors.push(failures),
      worker: () => {
        attempts++;
        return attempts <= 3 ? Promise.reject(new Error("API down")) : Promise.resolve();
      },
    });
    q.add("shop");
    for (let i = 0; i < 3; i++) {
      await q.idle();
      expect(manual.pending).toHaveLength(1);
      manual.fireAll();
    }
    await q.idle();
    expect(attempts).toBe(4);
    expect(errors).toEqual([1, 2, 3]);
    expect(manual.pending).toHaveLength(0);
  });

  it("keeps only the earliest of several delayed adds of a key", () => {
    const manual = manualSchedule();
    const q = makeWorkQueue({ concurrency: 1, schedule: manual.schedule, worker: () => Promise.resolve() });
    q.addAfter("shop", 60_000);
    q.addAfter("shop", 1_000);
    q.addAfter("shop", 30_000);
    expect(manual.pending.filter((p) => !p.cancelled).map((p) => p.ms)).toEqual([1_000]);
  });

  it("stops taking keys after shutdown and waits for the running one", async () => {
    const gate = deferred();
    const seen: string[] = [];
    const q = makeWorkQueue({
      concurrency: 1,
      worker: async (key) => {
        seen.push(key);
        await gate.promise;
      },
    });
    q.add("a");
    q.add("b");
    const stopped = q.shutDown();
    q.add("c");
    gate.resolve();
    await stopped;
    expect(seen).toEqual(["a"]);
  });
});
