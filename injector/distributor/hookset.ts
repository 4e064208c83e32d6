// The hook binaries shipped with the controller and the version name derived from their content.
//
// hash = the first 8 hex digits of SHA-256 over, for each architecture in the order amd64, arm64:
//   "<key>\0<decimal byte length>\0<bytes>"   (key = hook-amd64, hook-arm64)
// The key and length framing make the input unambiguous, so two different pairs of binaries cannot
// hash the same input. 8 hex digits (32 bits) is plenty to tell a handful of releases apart in a
// namespace; it is a version name, not a security boundary.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { configMapDigest } from "../informers/lean.ts";
import { HookKey, hookConfigMapName } from "../names.ts";

export interface HookSet {
  readonly hash: string;
  /** lameduck-hook-<hash> */
  readonly configMapName: string;
  /** base64 of each binary, as a ConfigMap's binaryData carries it. */
  readonly binaryData: Readonly<Record<(typeof HookKey)[keyof typeof HookKey], string>>;
  /** configMapDigest() of the ConfigMap content: what a cached ConfigMap is compared with. */
  readonly contentDigest: string;
}

export function hookHash(amd64: Uint8Array, arm64: Uint8Array): string {
  const sha = createHash("sha256");
  for (const [key, bytes] of [[HookKey.amd64, amd64], [HookKey.arm64, arm64]] as const) {
    sha.update(`${key}\0${bytes.byteLength}\0`);
    sha.update(bytes);
  }
  return sha.digest("hex").slice(0, 8);
}

export function makeHookSet(amd64: Uint8Array, arm64: Uint8Array): HookSet {
  const hash = hookHash(amd64, arm64);
  const binaryData = Object.freeze({
    [HookKey.amd64]: Buffer.from(amd64).toString("base64"),
    [HookKey.arm64]: Buffer.from(arm64).toString("base64"),
  });
  return Object.freeze({ hash, configMapName: hookConfigMapName(hash), binaryData, contentDigest: configMapDigest({ binaryData }) });
}

// A ConfigMap holds at most 1 MiB of data + binaryData (decoded); fail at start, not on every create.
const maxConfigMapBytes = 1_048_576;

export async function loadHookSet(hookDir: string): Promise<HookSet> {
  const read = async (key: string): Promise<Buffer> => {
    const path = join(hookDir, key);
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`reading hook binary ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  const [amd64, arm64] = await Promise.all([read(HookKey.amd64), read(HookKey.arm64)]);
  const total = amd64.byteLength + arm64.byteLength;
  if (total > maxConfigMapBytes) throw new Error(`hook binaries in ${hookDir} are ${total} bytes together; a ConfigMap holds at most ${maxConfigMapBytes}`);
  return makeHookSet(amd64, arm64);
}
