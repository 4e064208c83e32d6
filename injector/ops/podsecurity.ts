// The Pod Security Standards' `baseline` and `restricted` levels (policy version latest, as of
// Kubernetes 1.34), evaluated on a PodSpec. `lameduck check` uses it to show that what the webhook adds
// to a pod is admitted at each namespace's enforced level, and the manifests test uses it on the
// controller's own pod template. It mirrors k8s.io/pod-security-admission/policy check by check.

// Structural types with just the fields the checks read: client-node's objects, pods parsed from YAML
// and test literals all fit them.
interface Profile {
  readonly type?: string | undefined;
}
interface SeLinux {
  readonly type?: string | undefined;
  readonly user?: string | undefined;
  readonly role?: string | undefined;
}
interface Capabilities {
  readonly add?: readonly string[] | undefined;
  readonly drop?: readonly string[] | undefined;
}
interface SecurityContext {
  readonly privileged?: boolean | undefined;
  readonly allowPrivilegeEscalation?: boolean | undefined;
  readonly runAsNonRoot?: boolean | undefined;
  readonly runAsUser?: number | undefined;
  readonly capabilities?: Capabilities | undefined;
  readonly seccompProfile?: Profile | undefined;
  readonly appArmorProfile?: Profile | undefined;
  readonly procMount?: string | undefined;
  readonly seLinuxOptions?: SeLinux | undefined;
  readonly windowsOptions?: { readonly hostProcess?: boolean | undefined } | undefined;
}
interface HostField {
  readonly host?: string | undefined;
}
interface Handler {
  readonly httpGet?: HostField | undefined;
  readonly tcpSocket?: HostField | undefined;
}
const volumeSources = [
  "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi", "downwardAPI",
  "emptyDir", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs",
  "hostPath", "image", "iscsi", "nfs", "persistentVolumeClaim", "photonPersistentDisk", "portworxVolume",
  "projected", "quobyte", "rbd", "scaleIO", "secret", "storageos", "vsphereVolume",
] as const;
export type VolumeLike = { readonly name: string } & { readonly [K in (typeof volumeSources)[number]]?: unknown };
export interface ContainerLike {
  readonly name: string;
  readonly securityContext?: SecurityContext | undefined;
  readonly ports?: readonly { readonly hostPort?: number | undefined }[] | undefined;
  readonly livenessProbe?: Handler | undefined;
  readonly readinessProbe?: Handler | undefined;
  readonly startupProbe?: Handler | undefined;
  readonly lifecycle?: { readonly preStop?: Handler | undefined; readonly postStart?: Handler | undefined } | undefined;
}
export interface PodSpecLike {
  readonly hostNetwork?: boolean | undefined;
  readonly hostPID?: boolean | undefined;
  readonly hostIPC?: boolean | undefined;
  readonly os?: { readonly name: string } | undefined;
  readonly securityContext?:
    | (SecurityContext & { readonly sysctls?: readonly { readonly name: string }[] | undefined })
    | undefined;
  /** Volume source fields (hostPath, projected, nfs, ...) are read by name. */
  readonly volumes?: readonly VolumeLike[] | undefined;
  readonly containers: readonly ContainerLike[];
  readonly initContainers?: readonly ContainerLike[] | undefined;
  readonly ephemeralContainers?: readonly ContainerLike[] | undefined;
}

export const PodSecurityLevel = { privileged: "privileged", baseline: "baseline", restricted: "restricted" } as const;
export type PodSecurityLevel = (typeof PodSecurityLevel)[keyof typeof PodSecurityLevel];

export function parseLevel(value: string | undefined): PodSecurityLevel | undefined {
  return value === "privileged" || value === "baseline" || value === "restricted" ? value : undefined;
}

const baselineCapabilities = new Set([
  "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
  "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
]);
const safeSysctls = new Set([
  "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
]);
const seLinuxTypes = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);
// image: allowed since policy 1.33 (kubernetes/kubernetes#130394; the website's list lags behind).
const restrictedVolumeTypes = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"]);

/** A volume's source types: every field but its name that is set. */
function volumeTypes(volume: VolumeLike): string[] {
  return volumeSources.filter((source) => volume[source] != null);
}

interface Named {
  readonly where: string;
  readonly container: ContainerLike;
}

function allContainers(spec: PodSpecLike): Named[] {
  return [
    ...(spec.initContainers ?? []).map((c) => ({ where: `initContainer ${c.name}`, container: c })),
    ...spec.containers.map((c) => ({ where: `container ${c.name}`, container: c })),
    ...(spec.ephemeralContainers ?? []).map((c) => ({ where: `ephemeralContainer ${c.name}`, container: c })),
  ];
}

function handlerHosts(c: ContainerLike): string[] {
  const hosts: string[] = [];
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
    if (probe?.httpGet?.host !== undefined && probe.httpGet.host !== "") hosts.push("probe httpGet.host");
    if (probe?.tcpSocket?.host !== undefined && probe.tcpSocket.host !== "") hosts.push("probe tcpSocket.host");
  }
  for (const handler of [c.lifecycle?.preStop, c.lifecycle?.postStart]) {
    if (handler?.httpGet?.host !== undefined && handler.httpGet.host !== "") hosts.push("lifecycle httpGet.host");
    if (handler?.tcpSocket?.host !== undefined && handler.tcpSocket.host !== "") hosts.push("lifecycle tcpSocket.host");
  }
  return hosts;
}

function baseline(spec: PodSpecLike, annotations: Readonly<Record<string, string>>): string[] {
  const v: string[] = [];
  if (spec.hostNetwork === true) v.push("hostNetwork");
  if (spec.hostPID === true) v.push("hostPID");
  if (spec.hostIPC === true) v.push("hostIPC");
  if (spec.securityContext?.windowsOptions?.hostProcess === true) v.push("pod windowsOptions.hostProcess");
  for (const vol of spec.volumes ?? []) if (volumeTypes(vol).includes("hostPath")) v.push(`hostPath volume ${vol.name}`);
  if (spec.securityContext?.seccompProfile?.type === "Unconfined") v.push("pod seccompProfile Unconfined");
  if (spec.securityContext?.appArmorProfile?.type === "Unconfined") v.push("pod appArmorProfile Unconfined");
  for (const [key, value] of Object.entries(annotations)) {
    if (key.startsWith("container.apparmor.security.beta.kubernetes.io/") && value !== "runtime/default" && !value.startsWith("localhost/")) v.push(`annotation ${key}`);
  }
  const podSe = spec.securityContext?.seLinuxOptions;
  if (podSe !== undefined && (!seLinuxTypes.has(podSe.type ?? "") || (podSe.user ?? "") !== "" || (podSe.role ?? "") !== "")) v.push("pod seLinuxOptions");
  for (const s of spec.securityContext?.sysctls ?? []) if (!safeSysctls.has(s.name)) v.push(`sysctl ${s.name}`);
  for (const { where, container: c } of allContainers(spec)) {
    const sc = c.securityContext;
    if (sc?.privileged === true) v.push(`${where} privileged`);
    if (sc?.windowsOptions?.hostProcess === true) v.push(`${where} windowsOptions.hostProcess`);
    for (const cap of sc?.capabilities?.add ?? []) if (!baselineCapabilities.has(cap)) v.push(`${where} adds capability ${cap}`);
    for (const p of c.ports ?? []) if (p.hostPort !== undefined && p.hostPort !== 0) v.push(`${where} hostPort ${p.hostPort}`);
    if (sc?.seccompProfile?.type === "Unconfined") v.push(`${where} seccompProfile Unconfined`);
    if (sc?.appArmorProfile?.type === "Unconfined") v.push(`${where} appArmorProfile Unconfined`);
    if (sc?.procMount !== undefined && sc.procMount !== "Default") v.push(`${where} procMount ${sc.procMount}`);
    const se = sc?.seLinuxOptions;
    if (se !== undefined && (!seLinuxTypes.has(se.type ?? "") || (se.user ?? "") !== "" || (se.role ?? "") !== "")) v.push(`${where} seLinuxOptions`);
    for (const h of handlerHosts(c)) v.push(`${where} ${h}`);
  }
  return v;
}

function seccompOk(p: Profile | undefined): boolean | undefined {
  if (p?.type === undefined) return undefined;
  return p.type === "RuntimeDefault" || p.type === "Localhost";
}

function dropsAll(caps: Capabilities | undefined): boolean {
  return (caps?.drop ?? []).includes("ALL");
}

function restricted(spec: PodSpecLike): string[] {
  const v: string[] = [];
  for (const vol of spec.volumes ?? []) {
    for (const t of volumeTypes(vol)) if (!restrictedVolumeTypes.has(t)) v.push(`volume ${vol.name} of type ${t}`);
  }
  const pod = spec.securityContext;
  if (pod?.runAsNonRoot === false) v.push("pod runAsNonRoot false");
  if (pod?.runAsUser === 0) v.push("pod runAsUser 0");
  const podSeccomp = seccompOk(pod?.seccompProfile);
  // Windows pods are exempt from the Linux-only restricted checks (spec.os.name: windows).
  const windows = spec.os?.name === "windows";
  for (const { where, container: c } of allContainers(spec)) {
    const sc: SecurityContext | undefined = c.securityContext;
    if (!windows && sc?.allowPrivilegeEscalation !== false) v.push(`${where} allowPrivilegeEscalation not false`);
    if (sc?.runAsNonRoot === false || (sc?.runAsNonRoot !== true && pod?.runAsNonRoot !== true)) v.push(`${where} runAsNonRoot not true`);
    if (sc?.runAsUser === 0) v.push(`${where} runAsUser 0`);
    const own = seccompOk(sc?.seccompProfile);
    if (!windows && (own === false || (own === undefined && podSeccomp !== true))) v.push(`${where} seccompProfile not RuntimeDefault or Localhost`);
    if (!windows) {
      if (!dropsAll(sc?.capabilities)) v.push(`${where} does not drop ALL capabilities`);
      for (const cap of sc?.capabilities?.add ?? []) if (cap !== "NET_BIND_SERVICE") v.push(`${where} adds capability ${cap}`);
    }
  }
  return v;
}

/** What keeps the pod from being admitted at `level`; empty when it is. */
export function podSecurityViolations(spec: PodSpecLike, level: PodSecurityLevel, annotations: Readonly<Record<string, string>> = {}): string[] {
  if (level === PodSecurityLevel.privileged) return [];
  const found = baseline(spec, annotations);
  return level === PodSecurityLevel.restricted ? [...found, ...restricted(spec)] : found;
}
