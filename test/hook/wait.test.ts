import { createServer as createHttpServer } from "node:http";
import { describe, expect, it, type TestContext } from "vitest";
import { answer, closedPort, httpResponse, sequence, startTestOracle, type Reply, type Script, type TestOracle } from "./oracle.ts";
import { makePodInfo, runHook, type HookRun, type PodInfo } from "./run.ts";

const uid = "4f1a6c2e-8b3d-4e5f-9a7b-1c2d3e4f5a6b";

// Lower bounds are exact: the hook must never release early. Upper bounds are generous: process
// start on a loaded 2-core machine; the timing figures themselves are in `npm run bench`.
const slack = 2500;

// Tests run concurrently: each one cleans up its own servers and directories when it finishes.
function setup(context: TestContext) {
  const oracleWith = async (script: Script, host?: string): Promise<TestOracle> => {
    const oracle = await startTestOracle(script, host);
    context.onTestFinished(() => oracle.close());
    return oracle;
  };
  const podInfo = (value: string | undefined): PodInfo => {
    const info = makePodInfo(value);
    context.onTestFinished(() => { info.remove(); });
    return info;
  };
  const wait = (oracle: string, ...flags: string[]): Promise<HookRun> =>
    runHook(["wait", `--oracle=${oracle}`, `--podinfo=${podInfo(uid).dir}`, ...flags]);
  return { oracleWith, podInfo, wait };
}

describe.concurrent("hook wait against the drain oracle", () => {
  it("asks again while serving, then after drained honours --settle and exits 0", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("serving", 300), answer("serving", 300), answer("drained\n")));
    const run = await f.wait(oracle.address, "--max=20s", "--settle=1500ms");
    expect(run.code).toBe(0);
    expect(oracle.requests).toHaveLength(3);
    const drainedAt = oracle.requests[2]?.at ?? Infinity;
    expect(run.exitedAt - drainedAt).toBeGreaterThanOrEqual(1500);
    expect(run.elapsedMs).toBeLessThan(600 + 1500 + slack);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, no serving ports, released at \d\.\d\ds of max 20s\n$/);
  });

  it("sends the protocol's request: path with the pod UID, wait, Host and Connection: close", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("unselected")));
    const run = await f.wait(oracle.address, "--max=60s");
    expect(run.code).toBe(0);
    const request = oracle.requests[0];
    expect(request?.requestLine).toBe(`GET /v1/pods/${uid}/drain?wait=30 HTTP/1.1`);
    expect(request?.headers).toMatchObject({ host: oracle.address, connection: "close" });
  });

  it("asks for at most the whole seconds left before --max", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("unselected")));
    await f.wait(oracle.address, "--max=5s");
    // 5 when the request leaves within the hook's first millisecond, else 4.
    expect(oracle.requests[0]?.wait).toBeGreaterThanOrEqual(4);
    expect(oracle.requests[0]?.wait).toBeLessThanOrEqual(5);
  });

  it("exits at once for an unselected pod: no settle, no quiet phase", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("unselected ports=8080")));
    const run = await f.wait(oracle.address, "--max=30s", "--settle=10s", "--quiet=10s", "--fallback=10s");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeLessThan(slack);
    expect(run.log).toMatch(/^lameduck: unselected \(no Service routes to this pod\), released at \d\.\d\ds of max 30s\n$/);
  });

  it.for([
    ["not-deleted", "unselected ports=8080 node=10.0.0.7 reason=not-deleted"],
    ["grace", "unselected reason=grace"],
  ])("names the oracle's reason %s in the summary line and exits at once", async ([reason = "", body = ""], context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer(body)));
    const run = await f.wait(oracle.address, "--max=30s", "--settle=10s", "--quiet=10s", "--drain");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeLessThan(slack);
    expect(run.log).toMatch(new RegExp(`^lameduck: unselected reason=${reason}, released at \\d\\.\\d\\ds of max 30s\n$`));
  });

  it.for([
    ["a character outside [a-z0-9-]", "unselected reason=Not_Deleted"],
    ["a newline's escape", "unselected reason=x\\nlameduck:"],
    ["more than 32 characters", `unselected reason=${"a".repeat(33)}`],
    ["nothing", "unselected reason="],
  ])("ignores a reason token with %s, as it ignores unknown tokens", async ([, body = ""], context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer(body)));
    const run = await f.wait(oracle.address, "--max=30s");
    expect(run.code).toBe(0);
    expect(run.log).toMatch(/^lameduck: unselected \(no Service routes to this pod\), released at \d\.\d\ds of max 30s\n$/);
  });

  it("prints a reason of exactly 32 characters whole", async (context) => {
    const f = setup(context);
    const reason = `${"a".repeat(31)}9`;
    const oracle = await f.oracleWith(sequence(answer(`unselected reason=${reason}`)));
    const run = await f.wait(oracle.address, "--max=30s");
    expect(run.log).toContain(`lameduck: unselected reason=${reason}, released at `);
  });

  it("reads an answer sent chunked by Node's http module", async (context) => {
    const f = setup(context);
    const server = createHttpServer((_request, response) => {
      response.write("drained");
      response.end(" node=10.0.0.9\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    context.onTestFinished(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no address");
    const run = await f.wait(`127.0.0.1:${address.port}`, "--max=10s", "--settle=0");
    expect(run.code).toBe(0);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, no serving ports, released/);
  });

  it("talks to an oracle at an IPv6 literal", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("unselected")), "::1");
    const run = await f.wait(oracle.address, "--max=10s");
    expect(run.log).toContain("lameduck: unselected");
    expect(oracle.requests[0]?.headers).toMatchObject({ host: oracle.address });
  });

  it("falls back to sleeping --fallback when the oracle refuses connections", async (context) => {
    const f = setup(context);
    const port = await closedPort();
    const run = await f.wait(`127.0.0.1:${port}`, "--max=30s", "--fallback=1s");
    expect(run.code).toBe(0);
    // Retries for 2 s first, then the fallback sleep.
    expect(run.elapsedMs).toBeGreaterThanOrEqual(2000 + 1000);
    expect(run.elapsedMs).toBeLessThan(3400 + 1000 + slack);
    expect(run.log).toMatch(
      new RegExp(`^lameduck: oracle 127\\.0\\.0\\.1:${port} unreachable: connection refused; fallback sleep, released at \\d\\.\\d\\ds of max 30s\\n$`),
    );
  });

  it("never sleeps the fallback past --max", async (context) => {
    const f = setup(context);
    const port = await closedPort();
    const run = await f.wait(`127.0.0.1:${port}`, "--max=3s", "--fallback=20s");
    expect(run.elapsedMs).toBeGreaterThanOrEqual(3000);
    expect(run.elapsedMs).toBeLessThan(3000 + slack);
    expect(run.log).toContain("; fallback sleep cut short by max, released at 3.");
  });

  it.for<[string, Reply, string]>([
    ["a malformed answer", { kind: "raw", data: httpResponse(200, "maybe\n") }, "answered malformed (unknown state)"],
    ["two lines", { kind: "raw", data: httpResponse(200, "drained\nserving\n") }, "answered malformed (answer is not one line)"],
    ["a bad ports token", { kind: "raw", data: httpResponse(200, "drained ports=80,x\n") }, "answered malformed (bad port in ports=)"],
    ["a bad node token", { kind: "raw", data: httpResponse(200, "drained node=10.0.0\n") }, "answered malformed (bad address in node=)"],
    ["an empty body", { kind: "raw", data: httpResponse(200, "") }, "answered malformed (empty answer)"],
    ["a status other than 200", { kind: "raw", data: httpResponse(503, "drained\n") }, "answered HTTP 503"],
    ["not HTTP at all", { kind: "raw", data: "drained\n" }, "answered malformed (bad status line)"],
    ["a truncated body", { kind: "raw", data: "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\ndrained\n" }, "answered malformed (truncated body)"],
    ["an oversized answer", { kind: "raw", data: httpResponse(200, `drained ${"x=y ".repeat(1500)}\n`) }, "answered more than 4096 bytes"],
    ["a close before answering", { kind: "raw", data: "" }, "answered malformed (truncated status line)"],
  ])("retries, then falls back, after %s", async ([, reply, reason], context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(reply));
    const run = await f.wait(oracle.address, "--max=30s", "--fallback=500ms");
    expect(run.code).toBe(0);
    expect(oracle.requests.length).toBeGreaterThanOrEqual(3);
    expect(oracle.requests.length).toBeLessThanOrEqual(6);
    expect(run.log).toBe(`lameduck: oracle ${oracle.address} ${reason}; fallback sleep, released at ${/\d+\.\d\ds/.exec(run.log)?.[0] ?? "?"} of max 30s\n`);
  });

  it("recovers when the oracle answers again within the retry window", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence({ kind: "raw", data: httpResponse(503, "") }, { kind: "raw", data: "" }, answer("unselected")));
    const run = await f.wait(oracle.address, "--max=30s", "--fallback=10s");
    expect(oracle.requests).toHaveLength(3);
    expect(run.log).toContain("lameduck: unselected");
    expect(run.elapsedMs).toBeLessThan(600 + slack);
  });

  it("exits by --max when the oracle accepts and never answers", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence({ kind: "silent" }));
    const run = await f.wait(oracle.address, "--max=3s", "--fallback=20s");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(3000);
    expect(run.elapsedMs).toBeLessThan(3000 + slack);
    expect(oracle.requests).toHaveLength(1);
    expect(run.log).toMatch(new RegExp(`^lameduck: max reached, oracle ${oracle.address} no answer in time, released at 3\\.\\d\\ds of max 3s\\n$`));
  });

  it("exits by --max when the oracle trickles bytes slower than it could ever finish", async (context) => {
    const f = setup(context);
    const loris = `HTTP/1.1 200 OK\r\n${"X-Slow: " + "z".repeat(200)}`;
    const oracle = await f.oracleWith(sequence({ kind: "trickle", data: loris, intervalMs: 50 }));
    const run = await f.wait(oracle.address, "--max=3s", "--fallback=20s");
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(3000);
    expect(run.elapsedMs).toBeLessThan(3000 + slack);
    expect(run.log).toContain(`lameduck: max reached, oracle ${oracle.address} timed out reading the answer, released at 3.`);
  });

  it("exits by --max while the oracle keeps saying serving", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("serving", 500)));
    const run = await f.wait(oracle.address, "--max=2s");
    expect(run.elapsedMs).toBeGreaterThanOrEqual(2000);
    expect(run.elapsedMs).toBeLessThan(2000 + slack);
    expect(run.log).toMatch(/^lameduck: max reached, oracle still answers serving, released at 2\.\d\ds of max 2s\n$/);
  });

  it("asks at most once per 100ms when the oracle answers serving without holding the request", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("serving")));
    const run = await f.wait(oracle.address, "--max=1s");
    expect(run.code).toBe(0);
    expect(oracle.requests.length).toBeGreaterThanOrEqual(2);
    // One ask per 100 ms in 1 s; without the guard it would be thousands.
    expect(oracle.requests.length).toBeLessThanOrEqual(11);
  });

  it("keeps settling within --max", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("drained")));
    const run = await f.wait(oracle.address, "--max=2s", "--settle=20s");
    expect(run.elapsedMs).toBeGreaterThanOrEqual(2000);
    expect(run.elapsedMs).toBeLessThan(2000 + slack);
    expect(run.log).toMatch(/^lameduck: drained after \d\.\d\ds, no serving ports, max reached while settling, released at 2\.\d\ds of max 2s\n$/);
  });
});

describe.concurrent("hook wait without a usable pod UID", () => {
  it.for<[string, string | undefined, string]>([
    ["a missing uid file", undefined, "no such file or directory"],
    ["a UID that would escape the URL path", "../../admin", "not a UID"],
    ["an empty UID", "", "not a UID"],
    ["an overlong UID", "a".repeat(65), "not a UID"],
  ])("sleeps the fallback without asking, given %s", async ([, value, reason], context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("unselected")));
    const info = f.podInfo(value);
    const run = await runHook(["wait", `--oracle=${oracle.address}`, "--max=30s", "--fallback=1s", `--podinfo=${info.dir}`]);
    expect(run.code).toBe(0);
    expect(oracle.requests).toHaveLength(0);
    expect(run.elapsedMs).toBeGreaterThanOrEqual(1000);
    expect(run.log).toMatch(new RegExp(`^lameduck: no pod UID \\(${info.dir}/pod/uid: ${reason}\\); fallback sleep, released at 1\\.\\d\\ds of max 30s\\n$`));
  });

  it("accepts a UID file that ends in a newline", async (context) => {
    const f = setup(context);
    const oracle = await f.oracleWith(sequence(answer("unselected")));
    const info = f.podInfo(`${uid}\n`);
    await runHook(["wait", `--oracle=${oracle.address}`, "--max=10s", `--podinfo=${info.dir}`]);
    expect(oracle.requests[0]?.uid).toBe(uid);
  });
});
