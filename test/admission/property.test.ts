// Property tests of the mutation: any valid pod in gives a valid pod out (one the guard passes), a
// second pass changes nothing, and nothing outside lameduck's own fields changes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mutatePod } from "../../injector/mutation/mutate.ts";
import { podProblems } from "../../injector/mutation/guard.ts";
import type { Container, Pod, Volume } from "../../injector/mutation/pod.ts";
import { applyOps, testFacts, testPolicy } from "../support/admission.ts";

const dnsLabel = fc.stringMatching(/^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$/);
const volumeName = fc.oneof(dnsLabel, fc.constantFrom("lameduck", "lameduck-1", "lameduck-2", "lameduck-podinfo"));
const mountPath = fc.oneof(fc.constantFrom("/.lameduck", "/.lameduck-1", "/.lameduck/", "/.lameduck-podinfo", "/data", "/var/run/x"), dnsLabel.map((s) => `/${s}`));
const annotationValue = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("wait", "sleep", "true", "false", "0s", "15s", "1500ms", "2m", "forever"));
const lameduckKeys = ["inject", "mode", "max", "settle", "quiet", "sleep"] as const;

const handler = fc.oneof(
  fc.record({ exec: fc.record({ command: fc.array(fc.string({ minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 }) }) }),
  fc.record({ httpGet: fc.record({ path: fc.constant("/drain"), port: fc.integer({ min: 1, max: 65535 }) }) }),
  fc.record({ sleep: fc.record({ seconds: fc.integer({ min: 0, max: 30 }) }) }),
);

function podArbitrary(): fc.Arbitrary<Pod> {
  return fc
    .record({
      name: fc.option(dnsLabel, { nil: undefined }),
      volumes: fc.uniqueArray(volumeName, { maxLength: 4 }),
      containerNames: fc.uniqueArray(dnsLabel, { minLength: 1, maxLength: 4 }),
      initNames: fc.uniqueArray(dnsLabel.map((n) => `init-${n}`), { maxLength: 2 }),
      // Most containers have no preStop: those are the ones the mutation works on.
      preStops: fc.array(fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: handler, weight: 2 }), { minLength: 4, maxLength: 4 }),
      postStarts: fc.array(fc.option(handler, { nil: undefined }), { minLength: 4, maxLength: 4 }),
      mountChoices: fc.array(fc.array(fc.tuple(fc.nat(), mountPath), { maxLength: 3 }), { minLength: 6, maxLength: 6 }),
      grace: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
      hostNetwork: fc.option(fc.boolean(), { nil: undefined }),
      arch: fc.option(fc.constantFrom("amd64", "arm64", "s390x"), { nil: undefined }),
      windows: fc.constantFrom(false, false, false, true),
      annotations: fc.dictionary(fc.constantFrom(...lameduckKeys.map((k) => `lameduck.dev/${k}`), "example.com/x"), annotationValue, { maxKeys: 4 }),
      labels: fc.dictionary(fc.constantFrom("app", "tier"), dnsLabel, { maxKeys: 2 }),
      unknown: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
    })
    .map((r) => {
      const volumes: Volume[] = r.volumes.map((name) => ({ name, emptyDir: {} }) as Volume);
      const container = (name: string, i: number): Container => {
        const mounts = new Map<string, string>();
        for (const [pick, path] of r.mountChoices[i] ?? []) {
          const volume = r.volumes[pick % Math.max(r.volumes.length, 1)];
          if (volume !== undefined && !mounts.has(path)) mounts.set(path, volume);
        }
        const c: Container = { name, ...({ image: `registry.example/${name}:1` } as object) };
        const preStop = r.preStops[i];
        const postStart = r.postStarts[i];
        if (preStop !== undefined || postStart !== undefined) {
          c.lifecycle = { ...(preStop === undefined ? {} : { preStop }), ...(postStart === undefined ? {} : { postStart }) };
        }
        if (mounts.size > 0) c.volumeMounts = [...mounts].map(([mountPath, name]) => ({ name, mountPath }));
        return c;
      };
      const pod: Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          ...(r.name === undefined ? { generateName: "gen-" } : { name: r.name }),
          ...(Object.keys(r.annotations).length > 0 ? { annotations: r.annotations } : {}),
          ...(Object.keys(r.labels).length > 0 ? { labels: r.labels } : {}),
        },
        spec: {
          containers: r.containerNames.map(container),
          ...(r.initNames.length > 0 ? { initContainers: r.initNames.map((n, i) => container(n, 4 + i)) } : {}),
          ...(volumes.length > 0 ? { volumes } : {}),
          ...(r.grace === undefined ? {} : { terminationGracePeriodSeconds: r.grace }),
          ...(r.hostNetwork === undefined ? {} : { hostNetwork: r.hostNetwork }),
          ...(r.arch === undefined && !r.windows ? {} : { nodeSelector: { ...(r.arch === undefined ? {} : { "kubernetes.io/arch": r.arch }), ...(r.windows ? { "kubernetes.io/os": "windows" } : {}) } }),
          ...(r.unknown === undefined ? {} : ({ futureField: r.unknown } as object)),
        },
      };
      return pod;
    });
}

const factsArbitrary = fc.record({
  nativeSleep: fc.boolean(),
  architectures: fc.subarray(["amd64", "arm64"]),
  oracleAddress: fc.option(fc.constant("10.96.40.7:8080"), { nil: undefined }),
  hookHash: fc.option(fc.constantFrom("3f2a9c1e", "0badc0de"), { nil: undefined }),
  currentHookHash: fc.option(fc.constant("77aa00ff"), { nil: undefined }),
});
const flagsArbitrary = fc
  .tuple(fc.subarray(["--mode=sleep", "--max-grace-period=45s", "--quiet=0s", "--sleep=1500ms", "--max=2m"]), fc.boolean())
  .map(([flags, image]) => (image ? [...flags, "--hook-source=image", "--hook-image=registry.example/lameduck-hook:1"] : flags));

/** JSON Pointer paths lameduck may add or replace; anything else is someone else's field. */
const ownPaths = [
  /^\/metadata$/,
  /^\/metadata\/annotations(\/lameduck\.dev~1injected)?$/,
  /^\/metadata\/labels(\/lameduck\.dev~1hook)?$/,
  /^\/spec\/terminationGracePeriodSeconds$/,
  /^\/spec\/volumes(\/\d+)?$/,
  /^\/spec\/containers\/\d+\/lifecycle(\/preStop)?$/,
  /^\/spec\/containers\/\d+\/volumeMounts(\/\d+)?$/,
];

describe("the mutation, for arbitrary pods", () => {
  it("turns a valid pod into a valid pod, is idempotent, and touches only its own fields", () => {
    fc.assert(
      fc.property(podArbitrary(), factsArbitrary, flagsArbitrary, (pod, facts, flags) => {
        fc.pre(podProblems(pod).length === 0);
        const f = testFacts(facts);
        const policy = testPolicy(flags);
        const before = structuredClone(pod);
        const outcome = mutatePod(pod, "shop", f, policy);
        expect(pod).toEqual(before);
        expect(outcome.result).not.toBe("guarded");
        if (outcome.result !== "patched") return;
        for (const op of outcome.ops) {
          expect(["add", "replace"]).toContain(op.op);
          expect(ownPaths.some((p) => p.test(op.path)), `${op.op} ${op.path}`).toBe(true);
          if (op.op === "replace") expect(op.path).toBe("/spec/terminationGracePeriodSeconds");
        }
        const after = applyOps(pod, outcome.ops);
        expect(podProblems(after)).toEqual([]);
        const grace = after.spec?.terminationGracePeriodSeconds ?? 30;
        expect(grace).toBeGreaterThanOrEqual(pod.spec?.terminationGracePeriodSeconds ?? 30);
        const second = mutatePod(after, "shop", f, policy);
        expect(second.result).toBe("skipped");
        // Every regular container has a preStop now, and the ones that had one kept it.
        for (const [i, c] of (after.spec?.containers ?? []).entries()) {
          expect(c.lifecycle?.preStop).toBeDefined();
          const had = pod.spec?.containers?.[i]?.lifecycle?.preStop;
          if (had !== undefined) expect(c.lifecycle?.preStop).toEqual(had);
        }
        expect(after.spec?.initContainers).toEqual(pod.spec?.initContainers);
      }),
      { numRuns: 400 },
    );
  });
});
