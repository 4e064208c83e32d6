import { afterAll, beforeAll, expect, it } from "vitest";
import { CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { createNamespace, deleteNamespace, startCluster } from "../support/cluster.ts";
import type { Cluster } from "../support/cluster.ts";
import { failureOf } from "../support/apierrors.ts";

let cluster: Cluster;
let core: CoreV1Api;
let ns: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  cluster = await startCluster();
  core = cluster.kc.makeApiClient(CoreV1Api);
  ns = await createNamespace(cluster.kc, "fakeapi-cm");
});

afterAll(async () => {
  await deleteNamespace(cluster.kc, ns);
  await cluster.close();
});

it("an immutable ConfigMap rejects a data change with the real 422 but takes label changes and deletion", async () => {
  const cm = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "frozen" }, immutable: true, data: { a: "1" }, binaryData: { b: "AAE=" } } });
  const f = await failureOf(core.replaceNamespacedConfigMap({ namespace: ns, name: "frozen", body: { ...cm, data: { a: "2" } } }));
  expect(f.code).toBe(422);
  expect(f.status).toMatchObject({ reason: "Invalid", message: 'ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set',
    details: { name: "frozen", kind: "ConfigMap", causes: [{ reason: "FieldValueForbidden", message: "Forbidden: field is immutable when `immutable` is set", field: "data" }] } });
  const fb = await failureOf(core.patchNamespacedConfigMap({ namespace: ns, name: "frozen", body: { binaryData: { b: "AAI=" } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)));
  expect(fb.status["message"]).toBe('ConfigMap "frozen" is invalid: binaryData: Forbidden: field is immutable when `immutable` is set');
  const relabelled = await core.patchNamespacedConfigMap({ namespace: ns, name: "frozen", body: { metadata: { labels: { version: "2" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  expect(relabelled.metadata?.labels).toEqual({ version: "2" });
  await core.deleteNamespacedConfigMap({ namespace: ns, name: "frozen" });
  expect((await failureOf(core.readNamespacedConfigMap({ namespace: ns, name: "frozen" }))).code).toBe(404);
});

it("exactly 1 MiB of data and decoded binaryData is accepted, one byte more is rejected with the real text", async () => {
  const half = "x".repeat(MiB / 2);
  const binary = Buffer.alloc(MiB / 2, 7).toString("base64");
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "exact" }, data: { text: half }, binaryData: { bin: binary } } });
  const f = await failureOf(core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "over" }, data: { text: `${half}x` }, binaryData: { bin: binary } } }));
  expect(f.code).toBe(422);
  expect(f.status["message"]).toBe('ConfigMap "over" is invalid: []: Too long: may not be more than 1048576 bytes');
});

it("an update past the size limit is rejected too", async () => {
  const cm = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "grows" }, data: { a: "small" } } });
  const f = await failureOf(core.replaceNamespacedConfigMap({ namespace: ns, name: "grows", body: { ...cm, data: { a: "y".repeat(MiB + 1) } } }));
  expect(f.code).toBe(422);
});
