// What the benches take from the image (Dockerfile), so they measure the process as it runs in a cluster.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

/** The Node.js flags the image's ENTRYPOINT passes before the bundle: heap sizing flags decide much of its RSS and GC. */
export function imageNodeFlags(): string[] {
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(join(root, "Dockerfile"), "utf8"))?.[1];
  const argv = entrypoint === undefined ? [] : (JSON.parse(entrypoint) as unknown[]).map(String);
  const bundle = argv.findIndex((a) => a.endsWith("lameduck.mjs"));
  return bundle < 1 ? [] : argv.slice(1, bundle);
}
