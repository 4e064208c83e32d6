// `lameduck inject`: reads every input first, writes to stdout only when all of it was injected, so a
// bad document never leaves half a manifest in a pipeline.
import { readFile } from "node:fs/promises";
import { HookSourceKind, Mode, type InjectConfig } from "../config.ts";
import { staticFacts } from "./static-facts.ts";
import { Action, InjectError, injectManifests, joinDocuments, type DocumentReport } from "./manifests.ts";

export interface InjectIo {
  readonly readStdin: () => Promise<string>;
  readonly readFile: (path: string) => Promise<string>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export async function readAll(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

export const processIo: InjectIo = {
  readStdin: () => readAll(process.stdin),
  readFile: (path) => readFile(path, "utf8"),
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** Exit code: 0, or 2 when an input cannot be read or injected (nothing is written to stdout then). */
export async function runInject(config: InjectConfig, io: InjectIo): Promise<number> {
  const facts = staticFacts({
    nativeSleep: config.nativeSleep,
    architectures: config.arch === "mixed" ? ["amd64", "arm64"] : [config.arch],
    oracleAddress: config.oracleAddress,
    hookHash: config.hookHash,
  });
  const options = { facts, policy: config, namespace: config.namespace };
  if (config.defaults.mode === Mode.wait) {
    if (config.hookSource.kind === HookSourceKind.image && config.oracleAddress === undefined) {
      io.err(`lameduck inject: without --oracle pods get a sleep, not the drain wait\n`);
    } else if (config.hookSource.kind === HookSourceKind.configmap && (config.hookHash === undefined || config.oracleAddress === undefined)) {
      io.err(`lameduck inject: without --oracle and --hook-configmap pods get a sleep, not the drain wait\n`);
    }
  }
  const outputs: string[] = [];
  const reports: DocumentReport[] = [];
  for (const file of config.files) {
    const source = file === "-" ? "<stdin>" : file;
    let text: string;
    try {
      text = file === "-" ? await io.readStdin() : await io.readFile(file);
    } catch (e) {
      io.err(`lameduck inject: cannot read ${source}: ${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    }
    try {
      const result = injectManifests(text, source, options);
      for (const warning of result.warnings) io.err(`lameduck inject: ${warning}\n`);
      reports.push(...result.reports);
      outputs.push(result.yaml);
    } catch (e) {
      if (e instanceof InjectError) {
        io.err(`lameduck inject: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  }
  io.out(joinDocuments(outputs));
  io.err(summary(reports));
  return 0;
}

/** One line per document, then the counts: what a reviewer of the pipeline's log needs. */
export function summary(reports: readonly DocumentReport[]): string {
  const lines = reports.map((r) => `lameduck inject: ${r.what}: ${r.action}: ${r.why}\n`);
  const counts = Object.values(Action)
    .map((a) => [a, reports.filter((r) => r.action === a).length] as const)
    .filter(([, n]) => n > 0)
    .map(([a, n]) => `${n} ${a}`);
  const documents = reports.length === 1 ? "1 document" : `${reports.length} documents`;
  return `${lines.join("")}lameduck inject: ${documents}${counts.length === 0 ? "" : `: ${counts.join(", ")}`}\n`;
}
