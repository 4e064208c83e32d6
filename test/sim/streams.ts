// Clients that hold long-lived streaming connections through the Service, as WebSocket and gRPC
// streaming clients do: each opens `GET /stream?ms=N` (app.ts), reads until the server's `end`, and
// opens the next stream at once; a stream the server cuts before its end, or that cannot be opened,
// is counted and retried after a short backoff. N is drawn per stream, so that streams end at
// different moments as real sessions do.
import { connect, type Socket } from "node:net";
import type { Random } from "./profile.ts";

export interface StreamSpec {
  readonly clients: number;
  /** Each stream lasts between these, drawn uniformly. */
  readonly minMs: number;
  readonly maxMs: number;
}

export interface StreamOptions extends StreamSpec {
  readonly host: string;
  readonly port: number;
  readonly random: Random;
  readonly now?: () => number;
}

export const StreamEnd = {
  /** The server sent `end`: the stream ran its course. */
  completed: "completed",
  /** Open (the response had begun), then closed, reset or stalled before `end`. */
  cut: "cut",
  /** Refused, reset or closed before the response began. */
  failedOpen: "failed-open",
} as const;
export type StreamEnd = (typeof StreamEnd)[keyof typeof StreamEnd];

export interface StreamRecord {
  /** Milliseconds since the clients started, when the stream ended. */
  readonly atMs: number;
  readonly end: StreamEnd;
}

export interface StreamSummary {
  readonly clients: number;
  readonly opened: number;
  readonly completed: number;
  readonly cut: number;
  readonly failedOpens: number;
}

export interface Streams {
  readonly startedAt: number;
  stop(): Promise<StreamSummary>;
}

/** After a cut or a failed open: WebSocket and gRPC clients back off before reconnecting. */
const reconnectBackoffMs = 100;
/** The server ticks every 100 ms: this long without a byte is a stall, counted as a cut. */
const stallMs = 2000;
const maxBufferedBytes = 64 * 1024;
const streamTrailer = "4\r\nend\n\r\n0\r\n\r\n";

export function summarizeStreams(clients: number, records: readonly StreamRecord[]): StreamSummary {
  const count = (end: StreamEnd): number => records.filter((r) => r.end === end).length;
  const completed = count(StreamEnd.completed);
  const cut = count(StreamEnd.cut);
  return { clients, opened: completed + cut, completed, cut, failedOpens: count(StreamEnd.failedOpen) };
}

/** One stream: resolves with how it ended. */
function openStream(host: string, port: number, ms: number, open: Set<Socket>): Promise<StreamEnd> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host, port, noDelay: true });
    open.add(socket);
    let received = "";
    let begun = false;
    let ended = false;
    let stall: NodeJS.Timeout | undefined;
    const finish = (end: StreamEnd): void => {
      clearTimeout(stall);
      socket.destroy();
      open.delete(socket);
      resolve(end);
    };
    const armStall = (): void => {
      clearTimeout(stall);
      stall = setTimeout(() => { finish(begun ? StreamEnd.cut : StreamEnd.failedOpen); }, stallMs);
    };
    armStall();
    socket.on("connect", () => socket.write(`GET /stream?ms=${String(Math.round(ms))} HTTP/1.1\r\nHost: sim\r\n\r\n`));
    socket.on("data", (chunk: Buffer) => {
      armStall();
      // Only the head and the last bytes matter: the stream's `end` line arrives last.
      received = (received + chunk.toString("latin1")).slice(-maxBufferedBytes);
      if (!begun && received.startsWith("HTTP/1.1 200 ")) begun = true;
      // The app's last chunk, then the chunked body's terminator.
      if (begun && received.endsWith(streamTrailer)) ended = true;
    });
    socket.on("error", () => undefined);
    socket.on("close", () => { finish(ended ? StreamEnd.completed : begun ? StreamEnd.cut : StreamEnd.failedOpen); });
  });
}

export function startStreams(options: StreamOptions): Streams {
  const now = options.now ?? (() => performance.now());
  const startedAt = now();
  const records: StreamRecord[] = [];
  const open = new Set<Socket>();
  let stopping = false;
  // A call, not the variable: the loops read it after awaits that stop() interleaves with.
  const stopped = (): boolean => stopping;
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const draw = (): number => options.minMs + options.random() * (options.maxMs - options.minMs);
  const client = async (): Promise<void> => {
    // Staggered, so that the clients' streams do not all end together.
    await sleep(options.random() * options.minMs);
    while (!stopped()) {
      const end = await openStream(options.host, options.port, draw(), open);
      // A stream that the run's stop ends is not counted either way.
      if (stopped() && end !== StreamEnd.completed) break;
      records.push({ atMs: now() - startedAt, end });
      if (end !== StreamEnd.completed) await sleep(reconnectBackoffMs);
    }
  };
  const running = Array.from({ length: options.clients }, () => client());
  return {
    startedAt,
    async stop() {
      stopping = true;
      for (const s of open) s.destroy();
      await Promise.all(running);
      return summarizeStreams(options.clients, records);
    },
  };
}
