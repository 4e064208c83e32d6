#!/usr/bin/env node
// `lameduck` and `kubectl-lameduck` as npm installs them: runs dist/lameduck.mjs on a Node.js that
// can (22.19+: undici and the ESM the bundle uses). On an older `node` first on the PATH it runs the
// bundle with the Node.js 24 of the `node` package installed beside it; without that, it says what is
// needed instead of crashing inside undici. Written for any Node.js that can start it: CommonJS,
// nothing newer than ES2017.
"use strict";
const { spawn } = require("child_process");
const { existsSync } = require("fs");
const { dirname, join } = require("path");
const { pathToFileURL } = require("url");

const bundle = join(__dirname, "..", "dist", "lameduck.mjs");
// Run as kubectl's plugin (kubectl-lameduck), the help says `kubectl lameduck`.
if (/(^|[\\/])kubectl-lameduck(\.c?js)?$/.test(process.argv[1] || "")) process.env.LAMEDUCK_PROGRAM = "kubectl lameduck";
const parts = process.versions.node.split(".").map(Number);
const major = parts[0];
const minor = parts[1];

function bundledNode() {
  try {
    const bin = join(dirname(require.resolve("node/package.json", { paths: [join(__dirname, "..")] })), "bin", "node");
    return existsSync(bin) ? bin : undefined;
  } catch (e) {
    return undefined;
  }
}

if (major > 22 || (major === 22 && minor >= 19)) {
  import(pathToFileURL(bundle).href).catch((e) => {
    process.stderr.write(`lameduck: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
} else {
  const node = bundledNode();
  if (node === undefined) {
    process.stderr.write(`lameduck needs Node.js >= 22.19 (found ${process.version})\n`);
    process.exit(1);
  }
  const child = spawn(node, [bundle].concat(process.argv.slice(2)), { stdio: "inherit" });
  // A terminal's Ctrl-C reaches the whole process group, the child included; a kill aimed at this
  // process is passed on, and its outcome is the child's.
  process.on("SIGINT", () => {});
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("error", (e) => {
    process.stderr.write(`lameduck: cannot run ${node}: ${e.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code === null ? 1 : code);
  });
}
