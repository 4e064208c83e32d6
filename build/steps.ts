// `npm test` and `npm run demo` run several tools one after the other; this says which one runs,
// what it is for and how long it took, instead of npm's banners alone. Stops at the first failure
// with that tool's exit code.
//
//   node build/steps.ts build typecheck lint vitest
import { spawnSync } from "node:child_process";

const steps: Readonly<Record<string, { readonly what: string; readonly argv: readonly string[] }>> = {
  build: { what: "build the hooks (amd64, arm64), the bundle and the CLI package", argv: ["node", "build/build.ts"] },
  typecheck: { what: "typecheck (tsc --noEmit)", argv: ["tsc", "--noEmit"] },
  lint: { what: "lint (eslint)", argv: ["eslint", "."] },
  vitest: { what: "the test suite (vitest run, a few minutes)", argv: ["vitest", "run"] },
};

// Anything else is for vitest: `npm test -- test/offline` runs the steps, then only those tests.
const names = process.argv.slice(2).filter((a) => a in steps);
const forwarded = process.argv.slice(2).filter((a) => !(a in steps));
if (forwarded.length > 0 && !names.includes("vitest")) {
  process.stderr.write(`steps: unknown step ${forwarded.join(", ")} (known: ${Object.keys(steps).join(", ")})\n`);
  process.exit(2);
}
for (const [i, name] of names.entries()) {
  const step = steps[name];
  if (step === undefined) continue;
  const started = performance.now();
  process.stdout.write(`[${String(i + 1)}/${String(names.length)}] ${step.what}\n`);
  const [command = "", ...args] = step.argv;
  const result = spawnSync(command, name === "vitest" ? [...args, ...forwarded] : args, { stdio: "inherit" });
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  if (result.status !== 0) {
    process.stdout.write(`[${String(i + 1)}/${String(names.length)}] ${name} failed after ${seconds} s\n`);
    process.exit(result.status ?? 1);
  }
  if (name !== "vitest") process.stdout.write(`[${String(i + 1)}/${String(names.length)}] ${name} passed in ${seconds} s\n`);
}
