// A controller's event recorder, reduced: one core/v1 Warning Event per object and reason, its
// count and lastTimestamp going up on each repeat (the real recorder aggregates similar events and
// names them `<object>.<hex time>`; here the name is fixed so repeats find it).
import type { Obj } from "./objects.ts";
import { nameOf, namespaceOf, str, timestamp, uidOf } from "./objects.ts";
import { findResource } from "./resources.ts";
import type { Store } from "./store.ts";

export function recordWarning(store: Store, involved: Obj, reason: string, component: string, message: string): void {
  const events = findResource("", "v1", "events");
  if (events === undefined) return;
  const ns = namespaceOf(involved);
  const name = `${nameOf(involved)}.${reason.toLowerCase()}`;
  const now = timestamp(Date.now());
  const old = store.get(events, ns, name);
  if (old !== undefined) {
    store.replace(events, { ...old, message, count: (typeof old["count"] === "number" ? old["count"] : 1) + 1, lastTimestamp: now });
    return;
  }
  store.create(events, {
    kind: "Event", apiVersion: "v1",
    metadata: { name, namespace: ns },
    involvedObject: { kind: str(involved["kind"]) ?? "", namespace: ns, name: nameOf(involved), uid: uidOf(involved), apiVersion: str(involved["apiVersion"]) ?? "v1" },
    reason, message, type: "Warning", count: 1, firstTimestamp: now, lastTimestamp: now,
    source: { component }, reportingComponent: component,
  });
}
