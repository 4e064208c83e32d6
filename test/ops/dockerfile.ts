// A small reader for the repository's Dockerfile: stages with their WORKDIR, COPY, USER and
// ENTRYPOINT, enough for tests to rebuild the image's runtime layout without a Docker engine.
import { posix } from "node:path";

export interface Copy {
  readonly from: string | undefined;
  /** --chmod=MODE (octal text), if given. */
  readonly chmod?: string;
  readonly sources: readonly string[];
  readonly destination: string;
}

export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  /** WORKDIR in effect at the end of the stage ("/" when none is set). */
  readonly workdir: string;
  /** Each COPY with its paths made absolute against the WORKDIR in effect at that line. */
  readonly copies: readonly Copy[];
  readonly user: string | undefined;
  readonly entrypoint: readonly string[] | undefined;
}

/** Joins continuation lines and drops comments and blank lines. */
function instructions(text: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    out.push(pending + line);
    pending = "";
  }
  if (pending !== "") out.push(pending);
  return out;
}

function splitFlags(words: readonly string[]): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (const word of words) {
    const flag = /^--([a-z-]+)=(.*)$/.exec(word);
    if (flag !== null && rest.length === 0) flags.set(flag[1] ?? "", flag[2] ?? "");
    else rest.push(word);
  }
  return { flags, rest };
}

function parseExecForm(text: string, what: string): string[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((p): p is string => typeof p === "string")) {
    throw new Error(`${what}: expected the JSON exec form, got ${text}`);
  }
  return parsed;
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let current: { image: string; name: string | undefined; workdir: string; copies: Copy[]; user: string | undefined; entrypoint: string[] | undefined } | undefined;
  const finish = (): void => {
    if (current !== undefined) stages.push(Object.freeze({ ...current, copies: Object.freeze(current.copies) }));
  };
  for (const line of instructions(text)) {
    const [keyword = "", ...words] = line.split(/\s+/);
    const upper = keyword.toUpperCase();
    if (upper === "FROM") {
      finish();
      const { rest } = splitFlags(words);
      const [image = "", as, name] = rest;
      current = { image, name: as?.toUpperCase() === "AS" ? name : undefined, workdir: "/", copies: [], user: undefined, entrypoint: undefined };
      continue;
    }
    if (current === undefined) {
      if (upper === "ARG") continue;
      throw new Error(`Dockerfile: ${keyword} before the first FROM`);
    }
    const stage = current;
    switch (upper) {
      case "WORKDIR":
        stage.workdir = posix.resolve(stage.workdir, words.join(" "));
        break;
      case "COPY": {
        const { flags, rest } = splitFlags(words);
        const destination = rest.pop();
        if (destination === undefined || rest.length === 0) throw new Error(`Dockerfile: COPY needs a source and a destination: ${line}`);
        const from = flags.get("from");
        // Sources of COPY --from are paths in that stage's filesystem; of a plain COPY, in the context.
        const chmod = flags.get("chmod");
        stage.copies.push({
          from,
          ...(chmod === undefined ? {} : { chmod }),
          sources: rest.map((s) => (from === undefined ? posix.normalize(s) : posix.resolve("/", s))),
          destination: posix.resolve(stage.workdir, destination),
        });
        break;
      }
      case "USER":
        stage.user = words.join(" ");
        break;
      case "ENTRYPOINT":
        stage.entrypoint = parseExecForm(line.slice(keyword.length).trim(), "ENTRYPOINT");
        break;
      default:
        break;
    }
  }
  finish();
  return stages;
}
