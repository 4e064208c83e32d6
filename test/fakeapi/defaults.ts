// Defaulting and the built-in mutating admission plugins that run before webhooks (ServiceAccount,
// DefaultTolerationSeconds, Priority), so that an object looks to a webhook as it does on a real
// v1.36.2 server (compare test/fixtures/real/admission-*.json `object`s). Omitted: the OpenShift-only
// `openshift-service-ca.crt` source, and defaults nothing in lameduck reads.
import type { Obj } from "./objects.ts";
import { arr, isObj, obj, objs, str } from "./objects.ts";
import { randomSuffix } from "./names.ts";
import type { ResourceDef } from "./resources.ts";
import { normaliseSecret } from "./kinds.ts";

/** SetDefaults_HTTPGetAction, for probes and lifecycle handlers alike. */
function handler(h: unknown): unknown {
  if (!isObj(h) || !isObj(h["httpGet"])) return h;
  const get = h["httpGet"];
  return { ...h, httpGet: { ...get, path: str(get["path"]) ?? "/", scheme: str(get["scheme"]) ?? "HTTP" } };
}

function probe(p: unknown): unknown {
  if (!isObj(p)) return p;
  const out = obj(handler(p));
  return { ...out, timeoutSeconds: out["timeoutSeconds"] ?? 1, periodSeconds: out["periodSeconds"] ?? 10,
    successThreshold: out["successThreshold"] ?? 1, failureThreshold: out["failureThreshold"] ?? 3 };
}

function container(c: Obj, hostNetwork: boolean, mount: Obj | undefined): Obj {
  const image = str(c["image"]) ?? "";
  const tag = /:([^/:@]+)$/.exec(image)?.[1];
  const pullAlways = !image.includes("@") && (tag === undefined || tag === "latest");
  const out: Obj = { ...c, resources: c["resources"] ?? {} };
  if (Array.isArray(c["ports"])) {
    out["ports"] = objs(c["ports"]).map((p) => ({ ...p, ...(hostNetwork && p["hostPort"] === undefined ? { hostPort: p["containerPort"] } : {}), protocol: p["protocol"] ?? "TCP" }));
  }
  for (const k of ["readinessProbe", "livenessProbe", "startupProbe"]) if (c[k] !== undefined) out[k] = probe(c[k]);
  const lifecycle = c["lifecycle"];
  if (isObj(lifecycle)) out["lifecycle"] = { ...lifecycle, ...Object.fromEntries(["postStart", "preStop"].filter((k) => lifecycle[k] !== undefined).map((k) => [k, handler(lifecycle[k])])) };
  if (mount !== undefined && !objs(c["volumeMounts"]).some((m) => m["mountPath"] === mount["mountPath"])) {
    out["volumeMounts"] = [...arr(c["volumeMounts"]), mount];
  }
  out["terminationMessagePath"] = c["terminationMessagePath"] ?? "/dev/termination-log";
  out["terminationMessagePolicy"] = c["terminationMessagePolicy"] ?? "File";
  out["imagePullPolicy"] = c["imagePullPolicy"] ?? (pullAlways ? "Always" : "IfNotPresent");
  return out;
}

const saPath = "/var/run/secrets/kubernetes.io/serviceaccount";

function withFieldRefVersions(source: Obj): Obj {
  if (!Array.isArray(source["items"])) return source;
  return { ...source, items: arr(source["items"]).map((i) => (isObj(i) && isObj(i["fieldRef"]) ? { ...i, fieldRef: { apiVersion: "v1", ...i["fieldRef"] } } : i)) };
}

// Every volume source key; a volume with none is an emptyDir (SetDefaults_Volume).
const volumeSources = ["hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
  "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc", "azureFile",
  "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
  "storageos", "csi", "ephemeral", "image"];

/** Volume defaults (SetDefaults_Volume, SetDefaults_*VolumeSource): emptyDir, file modes 0644, downward API field versions. */
function volume(v: unknown): unknown {
  if (!isObj(v)) return v;
  const out: Obj = { ...v };
  if (!volumeSources.some((k) => out[k] !== undefined && out[k] !== null)) out["emptyDir"] = {};
  for (const t of ["secret", "configMap", "downwardAPI"]) {
    const source = out[t];
    if (isObj(source)) out[t] = { ...(t === "downwardAPI" ? withFieldRefVersions(source) : source), defaultMode: source["defaultMode"] ?? 420 };
  }
  const projected = out["projected"];
  if (isObj(projected)) {
    const sources = arr(projected["sources"]).map((s) => (isObj(s) && isObj(s["downwardAPI"]) ? { ...s, downwardAPI: withFieldRefVersions(s["downwardAPI"]) } : s));
    out["projected"] = { ...projected, sources, defaultMode: projected["defaultMode"] ?? 420 };
  }
  return out;
}

function serviceAccountVolume(): Obj {
  return {
    name: `kube-api-access-${randomSuffix()}`,
    projected: {
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
        { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
      ],
      defaultMode: 420,
    },
  };
}

const defaultTolerations = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

function defaultPod(pod: Obj): Obj {
  const spec = obj(pod["spec"]);
  const hostNetwork = spec["hostNetwork"] === true;
  const sa = str(spec["serviceAccountName"]) ?? str(spec["serviceAccount"]) ?? "default";
  let volumes = arr(spec["volumes"]).map(volume);
  let mount: Obj | undefined;
  // The ServiceAccount admission plugin appends its token volume once, and mounts it into every
  // container that has nothing at the token path. It runs again before webhooks are reinvoked, so
  // a sidecar added by a webhook gets the mount too (admission-reinvocation-3 shows it).
  const lacking = [...objs(spec["containers"]), ...objs(spec["initContainers"])].some((c) => !objs(c["volumeMounts"]).some((m) => m["mountPath"] === saPath));
  if (spec["automountServiceAccountToken"] !== false && lacking) {
    let token = objs(volumes).find((v) => (str(v["name"]) ?? "").startsWith("kube-api-access-") && isObj(v["projected"]));
    if (token === undefined) {
      token = serviceAccountVolume();
      volumes = [...volumes, token];
    }
    mount = { name: token["name"], readOnly: true, mountPath: saPath };
  }
  const tolerations = objs(spec["tolerations"]);
  for (const key of defaultTolerations) {
    if (!tolerations.some((t) => t["key"] === key && t["effect"] === "NoExecute")) {
      tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
    }
  }
  // Spread order keeps the real key order: volumes come first in a defaulted PodSpec.
  const out: Obj = { ...(volumes.length > 0 ? { volumes } : {}), ...spec };
  if (volumes.length > 0) out["volumes"] = volumes;
  if (Array.isArray(spec["initContainers"])) out["initContainers"] = objs(spec["initContainers"]).map((c) => container(c, hostNetwork, mount));
  out["containers"] = objs(spec["containers"]).map((c) => container(c, hostNetwork, mount));
  Object.assign(out, {
    restartPolicy: spec["restartPolicy"] ?? "Always",
    terminationGracePeriodSeconds: spec["terminationGracePeriodSeconds"] ?? 30,
    dnsPolicy: spec["dnsPolicy"] ?? "ClusterFirst",
    serviceAccountName: sa,
    serviceAccount: sa,
    securityContext: spec["securityContext"] ?? {},
    schedulerName: spec["schedulerName"] ?? "default-scheduler",
    tolerations,
    priority: spec["priority"] ?? 0,
    enableServiceLinks: spec["enableServiceLinks"] ?? true,
    preemptionPolicy: spec["preemptionPolicy"] ?? "PreemptLowerPriority",
  });
  return { ...pod, spec: out, status: pod["status"] ?? {} };
}

/** Defaulting by kind, run before admission and again after each webhook's patch, as the real server does. */
export function applyDefaults(r: ResourceDef, o: Obj, allocateIp: () => string): Obj {
  if (r.group !== "") return o;
  switch (r.plural) {
    case "pods": return defaultPod(o);
    case "services": return defaultService(o, allocateIp);
    case "namespaces": return defaultNamespace(o);
    case "secrets": return normaliseSecret(o);
    default: return o;
  }
}

function defaultService(svc: Obj, allocateIp: () => string): Obj {
  const spec = obj(svc["spec"]);
  const type = str(spec["type"]) ?? "ClusterIP";
  const headless = spec["clusterIP"] === "None";
  let ip = str(spec["clusterIP"]);
  if (ip === undefined || ip === "") ip = allocateIp();
  const ports = objs(spec["ports"]).map((p) => ({ ...p, protocol: p["protocol"] ?? "TCP", targetPort: p["targetPort"] ?? p["port"] }));
  return {
    ...svc,
    spec: {
      ...spec,
      ports,
      clusterIP: ip,
      clusterIPs: headless ? ["None"] : [ip],
      type,
      sessionAffinity: spec["sessionAffinity"] ?? "None",
      ipFamilies: spec["ipFamilies"] ?? ["IPv4"],
      ipFamilyPolicy: spec["ipFamilyPolicy"] ?? "SingleStack",
      internalTrafficPolicy: spec["internalTrafficPolicy"] ?? "Cluster",
    },
    status: { loadBalancer: {} },
  };
}

function defaultNamespace(ns: Obj): Obj {
  return { ...ns, spec: { finalizers: ["kubernetes"], ...obj(ns["spec"]) }, status: { phase: "Active" } };
}

/** The immutable `kubernetes.io/metadata.name` label, set once the name is known (also for generateName). */
export function namespaceNameLabel(ns: Obj): Obj {
  const m = obj(ns["metadata"]);
  return { ...ns, metadata: { ...m, labels: { ...obj(m["labels"]), "kubernetes.io/metadata.name": str(m["name"]) ?? "" } } };
}

function hasQuantities(c: Obj, field: "requests" | "limits"): Obj {
  return obj(obj(c["resources"])[field]);
}

/** The pod's QoS class, as status.qosClass is computed at creation (pkg/apis/core/helper/qos). */
export function qosClass(pod: Obj): string {
  const cs = [...objs(obj(pod["spec"])["containers"]), ...objs(obj(pod["spec"])["initContainers"])];
  const any = cs.some((c) => Object.keys(hasQuantities(c, "requests")).length > 0 || Object.keys(hasQuantities(c, "limits")).length > 0);
  if (!any) return "BestEffort";
  const guaranteed = cs.every((c) => {
    const limits = hasQuantities(c, "limits");
    const requests = hasQuantities(c, "requests");
    return ["cpu", "memory"].every((k) => limits[k] !== undefined && (requests[k] === undefined || requests[k] === limits[k]));
  });
  return guaranteed ? "Guaranteed" : "Burstable";
}
