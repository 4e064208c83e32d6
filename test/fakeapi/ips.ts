// The address rules of EndpointSlice validation (pkg/apis/discovery/validation validateEndpoints):
// an IPv4 slice's address must be IPv4 (apimachinery IsValidIPv4Address), an IPv6 slice's IPv6, and
// either must pass ValidateEndpointIP (pkg/apis/core/validation): not unspecified, loopback,
// link-local or link-local multicast, judged as Go's net.IP methods judge the parsed address. Both
// checks run, so a malformed address gets both messages, as from the real server.
import { isIPv6 } from "node:net";
import type { Obj } from "./objects.ts";
import { arr, objs, str } from "./objects.ts";
import type { FieldError } from "./status.ts";
import { invalid, required } from "./podvolumes.ts";

/** Go's netutils.ParseIPSloppy: 16 bytes (IPv4 as ::ffff:a.b.c.d), or undefined. IPv4 parts may have leading zeros (read as decimal). */
export function parseIp(s: string): Uint8Array | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4 !== null) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...parts]);
  }
  // Go takes no zone (`%eth0`); Node's isIPv6 does.
  if (s.includes("%") || !isIPv6(s)) return undefined;
  const [head = "", tail] = s.split("::");
  const groups = (text: string): number[] => {
    if (text === "") return [];
    const out: number[] = [];
    for (const g of text.split(":")) {
      if (g.includes(".")) {
        const ip4 = parseIp(g);
        if (ip4 === undefined) return [];
        out.push(((ip4[12] ?? 0) << 8) | (ip4[13] ?? 0), ((ip4[14] ?? 0) << 8) | (ip4[15] ?? 0));
      } else out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const words = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  return Uint8Array.from(words.flatMap((w) => [w >> 8, w & 0xff]));
}

const isV4 = (ip: Uint8Array): boolean => ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;

export const loopbackMessage = "may not be in the loopback range (127.0.0.0/8, ::1/128)";

/** ValidateEndpointIP's messages for `address` (none when a real server accepts it as an endpoint). */
export function endpointIpMessages(address: string): string[] {
  const ip = parseIp(address);
  if (ip === undefined) return ["must be a valid IP address"];
  const v4 = isV4(ip);
  const [a = 0, b = 0, c = 0] = v4 ? ip.slice(12) : [];
  const out: string[] = [];
  if (v4 ? ip.slice(12).every((x) => x === 0) : ip.every((x) => x === 0)) out.push(`may not be unspecified (${address})`);
  if (v4 ? a === 127 : ip.slice(0, 15).every((x) => x === 0) && ip[15] === 1) out.push(loopbackMessage);
  if (v4 ? a === 169 && b === 254 : ip[0] === 0xfe && ((ip[1] ?? 0) & 0xc0) === 0x80) out.push("may not be in the link-local range (169.254.0.0/16, fe80::/10)");
  if (v4 ? a === 224 && b === 0 && c === 0 : ip[0] === 0xff && ((ip[1] ?? 0) & 0x0f) === 0x02) out.push("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
  return out;
}

/** The errors of one address of an EndpointSlice of `addressType`, at `field` (`endpoints[i].addresses[j]`). */
export function endpointAddressErrors(addressType: string, address: string, field: string): FieldError[] {
  if (addressType !== "IPv4" && addressType !== "IPv6") return [];
  const ip = parseIp(address);
  const family = ip !== undefined && isV4(ip) ? "IPv4" : "IPv6";
  const errors: FieldError[] = [];
  if (ip === undefined || family !== addressType) errors.push(invalid(field, address, `must be a valid ${addressType} address`));
  errors.push(...endpointIpMessages(address).map((msg) => invalid(field, address, msg)));
  return errors;
}

/** validateEndpoints' address rules for a whole slice, in its order: an endpoint needs an address, each address is checked. */
export function endpointSliceErrors(slice: Obj): FieldError[] {
  const addressType = str(slice["addressType"]) ?? "";
  const errors: FieldError[] = [];
  objs(slice["endpoints"]).forEach((ep, i) => {
    const addresses = arr(ep["addresses"]);
    if (addresses.length === 0) errors.push(required(`endpoints[${String(i)}].addresses`, "must contain at least 1 address"));
    addresses.forEach((a, j) => errors.push(...endpointAddressErrors(addressType, typeof a === "string" ? a : String(a), `endpoints[${String(i)}].addresses[${String(j)}]`)));
  });
  return errors;
}
