// List selectors against the cluster under test: labelSelector and fieldSelector as the real
// parsers take and refuse them (test/fakeapi/labels.ts, fields.ts), paging with limit and continue.
import { beforeAll, describe, expect, it } from "vitest";
import type { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { runPod } from "../support/cluster.ts";
import { clusterSuite, simplePod } from "../support/clustersuite.ts";
import { failureOf } from "../support/apierrors.ts";

const suite = clusterSuite("fakeapi-sel", { name: "sel-node", ip: "192.0.2.11" });
const node = suite.node;
const pod = simplePod;
let kc: KubeConfig;
let core: CoreV1Api;
let ns: string;

beforeAll(() => {
  ({ kc, core, ns } = suite);
});

describe("lists", () => {
  beforeAll(async () => {
    const specs: [string, Record<string, string>][] = [["sel-a", { tier: "web", env: "prod" }], ["sel-b", { tier: "db", env: "prod" }], ["sel-c", { tier: "web" }]];
    for (const [name, labels] of specs) await core.createNamespacedPod({ namespace: ns, body: pod(name, { ...labels, group: "sel" }) });
  });

  async function names(labelSelector: string, fieldSelector?: string): Promise<string[]> {
    // No trailing comma when only a field selector is given: the real parser refuses `group=sel,`.
    const selector = labelSelector === "" ? "group=sel" : `group=sel,${labelSelector}`;
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: selector, ...(fieldSelector === undefined ? {} : { fieldSelector }) });
    return list.items.map((p) => p.metadata?.name ?? "");
  }

  async function refusal(labelSelector: string, fieldSelector?: string): Promise<string> {
    const f = await failureOf(core.listNamespacedPod({ namespace: ns, labelSelector, ...(fieldSelector === undefined ? {} : { fieldSelector }) }));
    expect(f.code).toBe(400);
    expect(f.status["reason"]).toBe("BadRequest");
    return String(f.status["message"]);
  }

  it("a label selector with a trailing comma is refused with the real text", async () => {
    // Recorded from v1.36.2 (test/fixtures/real/suite-failures-v1.36.2.txt).
    expect(await refusal("group=sel,")).toBe("found '', expected: identifier after ','");
  });

  it("other malformed label selectors are refused with the parser's text [source: labels/selector.go]", async () => {
    expect(await refusal("tier in (web")).toBe("unable to parse requirement: found '', expected: ',' or ')'");
    expect(await refusal("tier web")).toBe("unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt");
    expect(await refusal("tier=web)")).toBe("found ')', expected: ',' or 'end of string'");
    expect(await refusal("tier=a b")).toBe("found 'b', expected: ',' or 'end of string'");
    expect(await refusal("tier=!")).toBe("unable to parse requirement: found '!', expected: identifier");
    expect(await refusal("tier=web!")).toBe("found '!', expected: ',' or 'end of string'");
  });

  it("label selector keys and values are validated [source: labels.NewRequirement]", async () => {
    expect(await refusal("a/b/c")).toBe("unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    expect(await refusal("tier=-web")).toBe("unable to parse requirement: values[0][tier]: Invalid value: \"-web\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
  });

  it("set-based and numeric requirements select as the real parser reads them [source: labels/selector.go]", async () => {
    expect(await names("tier in (db,,)")).toEqual(["sel-b"]);
    expect(await names("tier notin ()")).toEqual(["sel-a", "sel-b", "sel-c"]);
    expect(await names("env in (prod),!absent")).toEqual(["sel-a", "sel-b"]);
  });

  it("a label selector supports =, !=, in, notin, exists and !exists", async () => {
    expect(await names("tier=web")).toEqual(["sel-a", "sel-c"]);
    expect(await names("tier!=web")).toEqual(["sel-b"]);
    expect(await names("tier in (db, cache)")).toEqual(["sel-b"]);
    expect(await names("tier notin (db)")).toEqual(["sel-a", "sel-c"]);
    expect(await names("env")).toEqual(["sel-a", "sel-b"]);
    expect(await names("!env")).toEqual(["sel-c"]);
    expect(await names("tier==web,env=prod")).toEqual(["sel-a"]);
  });

  it("a field selector matches metadata.name and a pod's spec.nodeName", async () => {
    expect(await names("", "metadata.name=sel-b")).toEqual(["sel-b"]);
    await runPod(kc, ns, "sel-c", { node, ip: "10.1.0.3" });
    expect(await names("", `spec.nodeName=${node}`)).toEqual(["sel-c"]);
    expect(await names("", "metadata.name!=sel-b")).toEqual(["sel-a", "sel-c"]);
  });

  it("a field selector on an unsupported field answers 400", async () => {
    const f = await failureOf(core.listNamespacedPod({ namespace: ns, fieldSelector: "spec.image=x" }));
    expect(f.code).toBe(400);
    expect(f.status["message"]).toBe("field label not supported: spec.image");
  });

  it("a kind without its own field labels answers the default text [source: runtime.DefaultMetaV1FieldSelectorConversion]", async () => {
    const f = await failureOf(core.listNamespacedConfigMap({ namespace: ns, fieldSelector: "data.x=y" }));
    expect(f.code).toBe(400);
    expect(f.status["message"]).toBe('"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"');
    const nodes = await failureOf(core.listNode({ fieldSelector: "metadata.namespace=x" }));
    expect(nodes.status["message"]).toBe("field label not supported: metadata.namespace");
  });

  it("field selectors split on unescaped commas, skip empty terms and trim nothing [source: fields/selector.go]", async () => {
    expect(await names("", "metadata.name=sel-a,")).toEqual(["sel-a"]);
    expect(await refusal("group=sel", "metadata.name = sel-a")).toBe("field label not supported: metadata.name ");
    expect(await refusal("group=sel", "metadata.name=a=b")).toBe("invalid field selector: unescaped character in value: 61");
    expect(await refusal("group=sel", "metadata.name")).toBe("invalid selector: 'metadata.name'; can't understand 'metadata.name'");
    expect(await names("", "spec.hostNetwork=false")).toEqual(["sel-a", "sel-b", "sel-c"]);
  });

  it("limit and continue page through a list in name order", async () => {
    const first = await core.listNamespacedPod({ namespace: ns, labelSelector: "group=sel", limit: 2 });
    expect(first.items.map((p) => p.metadata?.name)).toEqual(["sel-a", "sel-b"]);
    // With a selector the real server cannot count what remains, so it says nothing.
    expect(first.metadata?.remainingItemCount).toBeUndefined();
    const cont = first.metadata?._continue ?? "";
    expect(cont).not.toBe("");
    const second = await core.listNamespacedPod({ namespace: ns, labelSelector: "group=sel", limit: 2, _continue: cont });
    expect(second.items.map((p) => p.metadata?.name)).toEqual(["sel-c"]);
    expect(second.metadata?._continue).toBeUndefined();
  });
});
