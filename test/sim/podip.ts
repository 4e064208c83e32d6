// The address the simulated pods report and serve on when the simulation runs against an API server
// given by a kubeconfig. A real API server refuses an EndpointSlice address that is loopback,
// link-local or unspecified (ValidateEndpointIP), so with pods at 127.0.0.1 its EndpointSlice
// controller could never publish them; the address must also be this machine's, so the simulated
// kube-proxy still reaches the apps. The in-repo server keeps 127.0.0.1 (test/fakeapi/README.md).
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import { endpointIpMessages } from "../fakeapi/ips.ts";

export class PodIpError extends Error {
  override name = "PodIpError";
}

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

const addressesOf = (interfaces: Interfaces): NetworkInterfaceInfo[] => Object.values(interfaces).flatMap((list) => list ?? []);

/**
 * `given` (from `source`, e.g. `--pod-ip`) checked, or else the first non-internal IPv4 address of
 * this machine a real API server accepts as an endpoint. Throws a PodIpError naming `source`.
 */
export function choosePodIp(given: string | undefined, source: string, interfaces: Interfaces = networkInterfaces()): string {
  const mine = addressesOf(interfaces);
  if (given === undefined || given === "") {
    const found = mine.find((a) => a.family === "IPv4" && !a.internal && endpointIpMessages(a.address).length === 0);
    if (found === undefined) {
      throw new PodIpError(`no network interface has an IPv4 address a real API server accepts in an EndpointSlice (not loopback or link-local); give one of this machine's addresses with ${source}=ADDR`);
    }
    return found.address;
  }
  const refused = endpointIpMessages(given);
  if (refused.length > 0) {
    throw new PodIpError(`${source}=${given}: ${refused.join("; ")}: a real API server refuses it in an EndpointSlice, so its EndpointSlice controller could never publish the pods`);
  }
  if (!mine.some((a) => a.address === given)) {
    throw new PodIpError(`${source}=${given}: not an address of this machine (${mine.map((a) => a.address).join(", ")}); the simulated pods serve on it, so it must be one`);
  }
  return given;
}
