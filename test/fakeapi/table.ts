// meta.k8s.io/v1 Table responses for kubectl's `get` (it asks for `as=Table`). Pods get kubectl's
// usual columns; every other kind gets Name and Age.
import type { Obj } from "./objects.ts";
import { meta, obj, objs, str } from "./objects.ts";
import type { ResourceDef } from "./resources.ts";

function age(o: Obj): string {
  const created = Date.parse(str(meta(o)["creationTimestamp"]) ?? "");
  if (Number.isNaN(created)) return "<unknown>";
  const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

function podCells(o: Obj): unknown[] {
  const status = obj(o["status"]);
  const statuses = objs(status["containerStatuses"]);
  const total = objs(obj(o["spec"])["containers"]).length;
  const ready = statuses.filter((c) => c["ready"] === true).length;
  const restarts = statuses.reduce((n, c) => n + (typeof c["restartCount"] === "number" ? c["restartCount"] : 0), 0);
  const phase = meta(o)["deletionTimestamp"] !== undefined ? "Terminating" : (str(status["phase"]) ?? "Unknown");
  return [meta(o)["name"], `${ready}/${total}`, phase, restarts, age(o)];
}

const podColumns = ["Name", "Ready", "Status", "Restarts", "Age"];

export function toTable(r: ResourceDef, items: readonly Obj[], resourceVersion: string): Obj {
  const isPod = r.group === "" && r.plural === "pods";
  const names = isPod ? podColumns : ["Name", "Age"];
  return {
    kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: { resourceVersion },
    columnDefinitions: names.map((name, i) => ({ name, type: name === "Restarts" ? "integer" : "string", format: i === 0 ? "name" : "", description: name, priority: 0 })),
    rows: items.map((o) => ({
      cells: isPod ? podCells(o) : [meta(o)["name"], age(o)],
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: meta(o) },
    })),
  };
}
