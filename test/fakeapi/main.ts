// Standalone fake API server for the demo: `npx node test/fakeapi/main.ts --port 0 --kubeconfig-out FILE`
// prints the URL on stdout and runs until SIGTERM or SIGINT.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startFakeApi } from "./index.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "kubeconfig-out": { type: "string" },
    "git-version": { type: "string", default: "v1.36.2" },
  },
  strict: true,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`fakeapi: --port must be an integer in 0..65535, got ${values.port}\n`);
  process.exit(2);
}
const fake = await startFakeApi({ host: values.host, port, gitVersion: values["git-version"] });
const out = values["kubeconfig-out"];
if (out !== undefined) writeFileSync(out, fake.kubeconfigYaml());
process.stdout.write(`${fake.url}\n`);

async function stop(): Promise<void> {
  await fake.close();
  process.exit(0);
}
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
