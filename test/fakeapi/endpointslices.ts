// The EndpointSlice controller's rules (pkg/controller/endpointslice), as recorded from a real
// kube-controller-manager v1.36.2 in test/fixtures/real/endpointslice-*.jsonl:
// - a pod counts when it has an IP, its node exists and it is not terminal (Failed, Succeeded);
//   terminating pods stay listed;
// - ready = publishNotReadyAddresses || (pod Ready && !terminating), serving = pod Ready,
//   terminating = deletionTimestamp set;
// - ports carry the container port under the Service port's name; targetRef has the pod's uid;
// - one placeholder slice (endpoints and ports null) for a selector that matches nothing, reused
//   when endpoints appear; removing an endpoint is an update of the slice, never a delete;
// - existing endpoints keep their place, new ones are appended, at most 100 per slice.
// - `endpoints.kubernetes.io/last-change-trigger-time` (pkg/controller/util/endpoint
//   trigger_time_tracker.go): the Service's creation when the Service is first synced, afterwards
//   the earliest Ready-condition transition later than the one last seen for that pod, and absent
//   when there is none (a pod's deletion, recorded as an update without the annotation). The real
//   server stores times at second precision, so two transitions within one second count as one.
// - a slice the API server would refuse (endpointSliceErrors, ips.ts: a pod at a loopback or
//   link-local address) is not written, nor is the rest of that sync, as the real reconciler's
//   refused create or update ends its sync; a Warning Event `FailedToUpdateEndpointSlices` on the
//   Service says why. `allowLoopback` lifts the loopback rule for the controller's own writes only:
//   the in-process simulation's pods serve on 127.0.0.1 (README.md, "Left out").
// The controller acts a few milliseconds after the change (the recordings show 24-31 ms from a
// DELETE call), never inside the request that caused it.
import type { Obj } from "./objects.ts";
import { arr, isObj, jsonEqual, labelsOf, meta, nameOf, namespaceOf, obj, objs, omit, str, timestamp, uidOf } from "./objects.ts";
import { Res } from "./resources.ts";
import { recordWarning } from "./events.ts";
import type { Store } from "./store.ts";
import { labelSelectorObject } from "./selectors.ts";
import { randomSuffix } from "./names.ts";
import { endpointSliceErrors, loopbackMessage } from "./ips.ts";

const managedBy = "endpointslice-controller.k8s.io";
const maxEndpointsPerSlice = 100;

export interface EndpointSliceController {
  stop(): void;
}

function isReady(pod: Obj): boolean {
  return objs(obj(pod["status"])["conditions"]).some((c) => c["type"] === "Ready" && c["status"] === "True");
}

function podIp(pod: Obj, family: string): string | undefined {
  const status = obj(pod["status"]);
  const ips = [str(status["podIP"]), ...objs(status["podIPs"]).map((p) => str(p["ip"]))].filter((ip): ip is string => ip !== undefined && ip !== "");
  return ips.find((ip) => (family === "IPv6") === ip.includes(":"));
}

// A terminal pod is never an endpoint, whatever its restartPolicy (ShouldPodBeInEndpoints in
// staging/src/k8s.io/endpointslice/util/controller_utils.go): this is how a pod the kubelet killed
// without an API deletion (node shutdown, eviction) leaves its slices, once its containers stopped.
function countsAsEndpoint(pod: Obj): boolean {
  const phase = str(obj(pod["status"])["phase"]);
  return phase !== "Failed" && phase !== "Succeeded";
}

/** The container port a Service port targets in this pod, or undefined when the pod has no such port. */
function targetPort(pod: Obj, svcPort: Obj): number | undefined {
  const target = svcPort["targetPort"] ?? svcPort["port"];
  if (typeof target === "number") return target;
  const protocol = str(svcPort["protocol"]) ?? "TCP";
  for (const c of objs(obj(pod["spec"])["containers"])) {
    for (const p of objs(c["ports"])) {
      if (p["name"] === target && (str(p["protocol"]) ?? "TCP") === protocol && typeof p["containerPort"] === "number") return p["containerPort"];
    }
  }
  if (typeof target === "string" && /^\d+$/.test(target)) return Number(target);
  return undefined;
}

function endpointPorts(pod: Obj, svc: Obj): Obj[] {
  const out: Obj[] = [];
  for (const sp of objs(obj(svc["spec"])["ports"])) {
    const port = targetPort(pod, sp);
    if (port === undefined) continue;
    const ep: Obj = { name: str(sp["name"]) ?? "", protocol: str(sp["protocol"]) ?? "TCP", port };
    if (sp["appProtocol"] !== undefined) ep["appProtocol"] = sp["appProtocol"];
    out.push(ep);
  }
  return out;
}

function endpointFor(pod: Obj, svc: Obj, node: Obj, ip: string): Obj {
  const spec = obj(pod["spec"]);
  const serving = isReady(pod);
  const terminating = meta(pod)["deletionTimestamp"] !== undefined;
  const ready = obj(svc["spec"])["publishNotReadyAddresses"] === true || (serving && !terminating);
  const ep: Obj = { addresses: [ip], conditions: { ready, serving, terminating } };
  const hostname = str(spec["hostname"]);
  if (hostname !== undefined && hostname !== "" && spec["subdomain"] === nameOf(svc)) ep["hostname"] = hostname;
  ep["targetRef"] = { kind: "Pod", namespace: namespaceOf(pod), name: nameOf(pod), uid: uidOf(pod) };
  ep["nodeName"] = spec["nodeName"];
  const zone = labelsOf(node)["topology.kubernetes.io/zone"];
  if (zone !== undefined) ep["zone"] = zone;
  return ep;
}

/** The pod's Ready transition in ms, at the second precision the real server stores. */
function readyTransition(pod: Obj): number | undefined {
  const t = str(objs(obj(pod["status"])["conditions"]).find((c) => c["type"] === "Ready")?.["lastTransitionTime"]);
  const ms = t === undefined ? Number.NaN : Date.parse(t);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000) * 1000;
}

function targetUid(ep: unknown): string {
  return str(obj(obj(ep)["targetRef"])["uid"]) ?? "";
}

export interface EndpointSliceControllerOptions {
  readonly delayMs: number;
  /** Publish loopback pod addresses the real API server refuses (only the in-process simulation asks). */
  readonly allowLoopback?: boolean;
}

export function startEndpointSliceController(store: Store, options: EndpointSliceControllerOptions): EndpointSliceController {
  const queue = new Set<string>();
  // Per Service: the Ready transition time last seen for each selected pod, by pod name (the trigger-time tracker).
  const seen = new Map<string, Map<string, number>>();
  let timer: NodeJS.Timeout | undefined;

  function slicesOf(ns: string, svcName: string): Obj[] {
    return store.list(Res.endpointslices, ns).filter((s) => {
      const l = labelsOf(s);
      return l["kubernetes.io/service-name"] === svcName && l["endpointslice.kubernetes.io/managed-by"] === managedBy;
    });
  }

  function sliceLabels(svc: Obj): Record<string, string> {
    const labels: Record<string, string> = { ...labelsOf(svc), "endpointslice.kubernetes.io/managed-by": managedBy, "kubernetes.io/service-name": nameOf(svc) };
    if (obj(svc["spec"])["clusterIP"] === "None") labels["service.kubernetes.io/headless"] = "";
    return labels;
  }

  function reconcile(ns: string, svcName: string): void {
    const svc = store.get(Res.services, ns, svcName);
    const existing = slicesOf(ns, svcName);
    const selector = svc === undefined ? undefined : obj(svc["spec"])["selector"];
    const namespace = store.get(Res.namespaces, "", ns);
    // Nothing may be created in a terminating namespace (the real controller gets a 403 there).
    const terminating = namespace === undefined || meta(namespace)["deletionTimestamp"] !== undefined;
    if (terminating) {
      for (const s of existing) store.remove(Res.endpointslices, ns, nameOf(s));
      return;
    }
    if (svc === undefined || !isObj(selector) || Object.keys(selector).length === 0) {
      seen.delete(`${ns}/${svcName}`);
      // Slices of a deleted Service are garbage-collected through their ownerReference.
      if (svc === undefined) for (const s of existing) store.remove(Res.endpointslices, ns, nameOf(s));
      return;
    }
    const family = str(arr(obj(svc["spec"])["ipFamilies"])[0]) ?? "IPv4";
    const matches = labelSelectorObject({ matchLabels: selector });
    // Desired endpoints, grouped by their port list (pods with different ports go to different slices).
    const desired = new Map<string, { ports: Obj[]; endpoints: Map<string, Obj> }>();
    const before = seen.get(`${ns}/${svcName}`);
    const now = new Map<string, number>();
    let trigger: number | undefined;
    for (const pod of store.list(Res.pods, ns)) {
      if (!matches(pod)) continue;
      const transition = readyTransition(pod);
      if (transition !== undefined) {
        now.set(nameOf(pod), transition);
        if (transition > (before?.get(nameOf(pod)) ?? Number.NEGATIVE_INFINITY)) trigger = Math.min(trigger ?? transition, transition);
      }
      if (!countsAsEndpoint(pod)) continue;
      const ip = podIp(pod, family);
      const nodeName = str(obj(pod["spec"])["nodeName"]);
      const node = nodeName === undefined ? undefined : store.get(Res.nodes, "", nodeName);
      if (ip === undefined || node === undefined) continue;
      const ports = endpointPorts(pod, svc);
      const key = JSON.stringify(ports);
      let group = desired.get(key);
      if (group === undefined) {
        group = { ports, endpoints: new Map() };
        desired.set(key, group);
      }
      group.endpoints.set(uidOf(pod), endpointFor(pod, svc, node, ip));
    }

    const plan: { slice: Obj | undefined; ports: Obj[] | null; endpoints: Obj[] }[] = [];
    const unused = [...existing];
    for (const [key, group] of desired) {
      const mine = unused.filter((s) => JSON.stringify(s["ports"] ?? []) === key && (s["endpoints"] ?? null) !== null);
      for (const s of mine) {
        unused.splice(unused.indexOf(s), 1);
        const kept: Obj[] = [];
        for (const ep of objs(s["endpoints"])) {
          const next = group.endpoints.get(targetUid(ep));
          if (next !== undefined) {
            kept.push(next);
            group.endpoints.delete(targetUid(ep));
          }
        }
        plan.push({ slice: s, ports: group.ports, endpoints: kept });
      }
      for (const ep of group.endpoints.values()) {
        let target = plan.find((p) => p.ports === group.ports && p.endpoints.length < maxEndpointsPerSlice);
        if (target === undefined) {
          target = { slice: unused.shift(), ports: group.ports, endpoints: [] };
          plan.push(target);
        }
        target.endpoints.push(ep);
      }
    }
    seen.set(`${ns}/${svcName}`, now);
    // A Service seen for the first time reports its creation, whatever its pods did.
    const created = Date.parse(str(meta(svc)["creationTimestamp"]) ?? "");
    const triggerMs = before === undefined ? (Number.isNaN(created) ? undefined : created) : trigger;
    const triggerTime = triggerMs === undefined ? undefined : timestamp(triggerMs);
    // With nothing to publish, one placeholder slice stays (reusing an existing one).
    if (plan.length === 0) plan.push({ slice: unused.shift(), ports: null, endpoints: [] });
    for (const p of plan) {
      if (p.endpoints.length === 0 && p.ports !== null && p.slice !== undefined && plan.length > 1) continue;
      const errors = refusals(family, p.endpoints);
      if (errors.length > 0) {
        refused(svc, p.slice === undefined ? "create" : "update", p.slice === undefined ? `${nameOf(svc)}-${randomSuffix()}` : nameOf(p.slice), errors);
        return;
      }
    }
    for (const s of unused) store.remove(Res.endpointslices, ns, nameOf(s));
    for (const p of plan) {
      if (p.endpoints.length === 0 && p.ports !== null && p.slice !== undefined && plan.length > 1) {
        store.remove(Res.endpointslices, ns, nameOf(p.slice));
        continue;
      }
      write(svc, family, p.slice, p.ports, p.endpoints, triggerTime);
    }
  }

  /** What the API server would answer to a slice with these endpoints (the field errors' texts). */
  function refusals(family: string, endpoints: Obj[]): string[] {
    return endpointSliceErrors({ addressType: family, endpoints })
      .filter((e) => !(options.allowLoopback === true && e.detail.endsWith(loopbackMessage)))
      .map((e) => `${e.field}: ${e.detail}`);
  }

  function refused(svc: Obj, verb: string, sliceName: string, errors: string[]): void {
    const ns = namespaceOf(svc);
    const svcName = nameOf(svc);
    const detail = errors.length === 1 ? (errors[0] ?? "") : `[${errors.join(", ")}]`;
    recordWarning(store, svc, "FailedToUpdateEndpointSlices", "endpoint-slice-controller",
      `Error updating Endpoint Slices for Service ${ns}/${svcName}: failed to ${verb} EndpointSlice for Service ${ns}/${svcName}: EndpointSlice.discovery.k8s.io "${sliceName}" is invalid: ${detail}`);
  }

  function write(svc: Obj, family: string, slice: Obj | undefined, ports: Obj[] | null, endpoints: Obj[], triggerTime: string | undefined): void {
    const triggerKey = "endpoints.kubernetes.io/last-change-trigger-time";
    const body = { addressType: family, endpoints: endpoints.length === 0 ? null : endpoints, ports: ports === null || endpoints.length === 0 ? null : ports };
    const labels = sliceLabels(svc);
    if (slice !== undefined) {
      if (jsonEqual(labelsOf(slice), labels) && jsonEqual(slice["endpoints"] ?? null, body.endpoints) && jsonEqual(slice["ports"] ?? null, body.ports)) return;
      const m = meta(slice);
      const annotations = omit(obj(m["annotations"]), [triggerKey]);
      if (triggerTime !== undefined) annotations[triggerKey] = triggerTime;
      store.replace(Res.endpointslices, { ...slice, metadata: { ...omit(m, ["annotations"]), labels, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) }, ...body });
      return;
    }
    const svcName = nameOf(svc);
    let name = `${svcName}-${randomSuffix()}`;
    while (store.get(Res.endpointslices, namespaceOf(svc), name) !== undefined) name = `${svcName}-${randomSuffix()}`;
    store.create(Res.endpointslices, {
      kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1",
      metadata: { name, generateName: `${svcName}-`, namespace: namespaceOf(svc), labels,
        ...(triggerTime === undefined ? {} : { annotations: { [triggerKey]: triggerTime } }),
        ownerReferences: [{ apiVersion: "v1", kind: "Service", name: svcName, uid: uidOf(svc), controller: true, blockOwnerDeletion: true }] },
      ...body,
    });
  }

  function flush(): void {
    timer = undefined;
    const keys = [...queue];
    queue.clear();
    for (const key of keys) {
      const [ns = "", name = ""] = key.split("/");
      reconcile(ns, name);
    }
  }

  function enqueue(ns: string, name: string): void {
    queue.add(`${ns}/${name}`);
    timer ??= setTimeout(flush, options.delayMs);
  }

  function servicesSelecting(ns: string, pods: (Obj | undefined)[]): void {
    for (const svc of store.list(Res.services, ns)) {
      const selector = obj(svc["spec"])["selector"];
      if (!isObj(selector) || Object.keys(selector).length === 0) continue;
      const matches = labelSelectorObject({ matchLabels: selector });
      if (pods.some((p) => p !== undefined && matches(p))) enqueue(ns, nameOf(svc));
    }
  }

  const unsubscribe = store.subscribe((e) => {
    if (e.res === Res.pods) servicesSelecting(namespaceOf(e.object), [e.object, e.previous]);
    else if (e.res === Res.services) enqueue(namespaceOf(e.object), nameOf(e.object));
    else if (e.res === Res.nodes) for (const svc of store.list(Res.services)) enqueue(namespaceOf(svc), nameOf(svc));
    else if (e.res === Res.endpointslices && labelsOf(e.object)["endpointslice.kubernetes.io/managed-by"] === managedBy) {
      const svcName = labelsOf(e.object)["kubernetes.io/service-name"];
      // Our own writes also land here; reconciling again is a no-op for them.
      if (svcName !== undefined && e.type === "DELETED") enqueue(namespaceOf(e.object), svcName);
    }
  });

  return {
    stop() {
      unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
