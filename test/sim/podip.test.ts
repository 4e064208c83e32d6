import type { NetworkInterfaceInfo } from "node:os";
import { describe, expect, it } from "vitest";
import { simTargetFrom } from "./matrix.ts";
import { choosePodIp, PodIpError } from "./podip.ts";

const nic = (address: string, family: "IPv4" | "IPv6", internal = false): NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: "", mac: "00:00:00:00:00:00", cidr: null, ...(family === "IPv6" ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;
const machine = {
  lo: [nic("127.0.0.1", "IPv4", true), nic("::1", "IPv6", true)],
  eth0: [nic("fe80::1", "IPv6"), nic("169.254.3.4", "IPv4"), nic("192.0.2.2", "IPv4"), nic("fd00::2", "IPv6")],
};

describe("the simulated pods' address against a kubeconfig's API server", () => {
  it("defaults to the first non-internal IPv4 address a real API server accepts as an endpoint (not link-local)", () => {
    expect(choosePodIp(undefined, "--pod-ip", machine)).toBe("192.0.2.2");
  });

  it("takes another of this machine's addresses when given", () => {
    expect(choosePodIp("fd00::2", "--pod-ip", machine)).toBe("fd00::2");
  });

  it("refuses loopback and link-local addresses, naming the flag and the rule", () => {
    expect(() => choosePodIp("127.0.0.1", "LAMEDUCK_SIM_POD_IP", machine)).toThrow(
      "LAMEDUCK_SIM_POD_IP=127.0.0.1: may not be in the loopback range (127.0.0.0/8, ::1/128): a real API server refuses it in an EndpointSlice",
    );
    expect(() => choosePodIp("169.254.3.4", "--pod-ip", machine)).toThrow("--pod-ip=169.254.3.4: may not be in the link-local range (169.254.0.0/16, fe80::/10)");
  });

  it("refuses an address that is not this machine's: the pods serve on it", () => {
    expect(() => choosePodIp("10.9.9.9", "--pod-ip", machine)).toThrow("--pod-ip=10.9.9.9: not an address of this machine (127.0.0.1, ::1, fe80::1, 169.254.3.4, 192.0.2.2, fd00::2)");
  });

  it("fails with the flag named when the machine has no usable IPv4 address", () => {
    const only = { lo: machine.lo, eth0: [nic("169.254.3.4", "IPv4"), nic("fd00::2", "IPv6")] };
    expect(() => choosePodIp(undefined, "--pod-ip", only)).toThrow(PodIpError);
    expect(() => choosePodIp("", "--pod-ip", only)).toThrow("no network interface has an IPv4 address a real API server accepts in an EndpointSlice (not loopback or link-local); give one of this machine's addresses with --pod-ip=ADDR");
  });

  it("the bench takes LAMEDUCK_SIM_POD_IP with LAMEDUCK_SIM_KUBECONFIG only, checked the same way", () => {
    expect(simTargetFrom({})).toEqual({ kind: "in-repo" });
    expect(() => simTargetFrom({ LAMEDUCK_SIM_POD_IP: "192.0.2.2" })).toThrow("LAMEDUCK_SIM_POD_IP needs LAMEDUCK_SIM_KUBECONFIG");
    expect(() => simTargetFrom({ LAMEDUCK_SIM_KUBECONFIG: "/k", LAMEDUCK_SIM_POD_IP: "::1" })).toThrow("LAMEDUCK_SIM_POD_IP=::1: may not be in the loopback range");
  });
});
