// Fault knobs for tests: the failures informers and controllers must survive in production
// (apiserver restarts drop watches, etcd compaction expires resourceVersions, overload delays and
// 500s, a request that never returns). Shares are counted, not random, so tests are deterministic.

export interface RequestInfo {
  readonly verb: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

export type RequestFilter = (req: RequestInfo) => boolean;

export interface FaultKnobs {
  /** Ends every open watch: "close" ends the response cleanly (like a server-side timeout), "reset" destroys the socket. Returns how many. */
  dropWatches(mode?: "close" | "reset"): number;
  /**
   * The next `count` watches are told their resourceVersion is gone: "event" (the default) answers
   * 200 with an ERROR event carrying a 410 Expired Status and closes, as the watch cache does;
   * "status" answers HTTP 410 with the Status body, as a request served from etcd does.
   */
  goneOnNextWatch(count?: number, mode?: "event" | "status"): void;
  /** Answer 500 to this share (0..1) of matching requests, counted deterministically. 0 turns it off. */
  failShare(fraction: number, filter?: RequestFilter): void;
  /** Delay this share of matching requests by `ms` before handling them. 0 turns it off. */
  delayMs(ms: number, share?: number, filter?: RequestFilter): void;
  /** Hold the next `count` matching requests without any answer until releaseStalled() or close(). */
  stallNext(count?: number, filter?: RequestFilter): void;
  releaseStalled(): void;
  /**
   * Open watches queue their events (and bookmarks) from now on instead of sending them, until
   * releaseWatchEvents() writes each watch's queue at once: a backlog the server delivers as fast
   * as the client reads it, made before it is delivered (a stalled watch cache catching up, or a
   * burst whose producers run elsewhere). Resolves once every held event has been handed to the
   * connection (the client has read all but what the socket buffers hold).
   */
  holdWatchEvents(): void;
  releaseWatchEvents(): Promise<void>;
  /** Turn every knob off and release stalled requests and held watch events. */
  reset(): void;
}

export interface FaultDecision {
  readonly fail: boolean;
  readonly delayMs: number;
  /** Resolves when the stalled request may continue; undefined when not stalled. */
  readonly stall: Promise<void> | undefined;
}

export interface Faults {
  readonly knobs: FaultKnobs;
  decide(req: RequestInfo): FaultDecision;
  takeGone(): "event" | "status" | undefined;
  trackWatch(end: (mode: "close" | "reset") => void): () => void;
  /** Whether watch events are held; `flush` is called when they are released. */
  holdingWatchEvents(): boolean;
  onWatchEventsReleased(flush: () => Promise<void>): () => void;
}

const any: RequestFilter = () => true;

/** True for `share` of the calls, spread evenly: call n fails when floor(n*share) advances. */
function counter(): { share: number; filter: RequestFilter; n: number; hit(req: RequestInfo): boolean } {
  return {
    share: 0,
    filter: any,
    n: 0,
    hit(req) {
      if (this.share <= 0 || !this.filter(req)) return false;
      this.n += 1;
      return Math.floor(this.n * this.share) > Math.floor((this.n - 1) * this.share);
    },
  };
}

export function makeFaults(): Faults {
  const watches = new Set<(mode: "close" | "reset") => void>();
  let gone = 0;
  let goneMode: "event" | "status" = "event";
  const fail = counter();
  const delay = { ...counter(), ms: 0 };
  let stallCount = 0;
  let stallFilter: RequestFilter = any;
  let releases: (() => void)[] = [];
  let holding = false;
  const flushes = new Set<() => Promise<void>>();

  const knobs: FaultKnobs = {
    dropWatches(mode = "close") {
      const all = [...watches];
      watches.clear();
      for (const end of all) end(mode);
      return all.length;
    },
    goneOnNextWatch(count = 1, mode = "event") {
      gone = count;
      goneMode = mode;
    },
    failShare(fraction, filter = any) {
      fail.share = fraction;
      fail.filter = filter;
      fail.n = 0;
    },
    delayMs(ms, share = 1, filter = any) {
      delay.ms = ms;
      delay.share = ms > 0 ? share : 0;
      delay.filter = filter;
      delay.n = 0;
    },
    stallNext(count = 1, filter = any) {
      stallCount = count;
      stallFilter = filter;
    },
    releaseStalled() {
      const all = releases;
      releases = [];
      for (const r of all) r();
    },
    holdWatchEvents() {
      holding = true;
    },
    async releaseWatchEvents() {
      holding = false;
      await Promise.all([...flushes].map((flush) => flush()));
    },
    reset() {
      gone = 0;
      knobs.failShare(0);
      knobs.delayMs(0);
      stallCount = 0;
      knobs.releaseStalled();
      void knobs.releaseWatchEvents();
    },
  };

  return {
    knobs,
    decide(req) {
      let stall: Promise<void> | undefined;
      if (stallCount > 0 && stallFilter(req)) {
        stallCount -= 1;
        stall = new Promise<void>((resolve) => releases.push(resolve));
      }
      return { fail: fail.hit(req), delayMs: delay.hit(req) ? delay.ms : 0, stall };
    },
    takeGone() {
      if (gone <= 0) return undefined;
      gone -= 1;
      return goneMode;
    },
    trackWatch(end) {
      watches.add(end);
      return () => watches.delete(end);
    },
    holdingWatchEvents: () => holding,
    onWatchEventsReleased(flush) {
      flushes.add(flush);
      return () => flushes.delete(flush);
    },
  };
}
