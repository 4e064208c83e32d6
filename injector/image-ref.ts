// Container image references, as the distribution library's grammar defines them
// (github.com/distribution/reference, regexp.go): [domain/]path[:tag][@digest]. Only the operator's
// --hook-image flag is ever read as one; nothing a pod carries becomes an image reference.

const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[0-9a-fA-F:.]+\\])`;
const domain = `${host}(?::[0-9]+)?`;
const pathComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const tag = "[\\w][\\w.-]{0,127}";
const digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const reference = new RegExp(`^((?:${domain}/)?${pathComponent}(?:/${pathComponent})*)(?::(${tag}))?(?:@(${digest}))?$`);

/** The distribution library's limit on the name part (domain and path). */
const maxNameLength = 255;
/** Name, tag (128) and a sha512 digest with room to spare; checked before the pattern runs. */
const maxReferenceLength = 512;

export type ImageRefCheck = { readonly ok: true } | { readonly ok: false; readonly problem: string };

/**
 * Whether `text` is an image reference a node can pull the same way everywhere: a valid reference
 * with a tag or a digest (without either it means `:latest`, which nodes with `IfNotPresent` would
 * keep at whatever version they pulled first).
 */
export function checkImageRef(text: string): ImageRefCheck {
  if (text.length > maxReferenceLength) return { ok: false, problem: `is longer than ${String(maxReferenceLength)} characters` };
  const match = reference.exec(text);
  if (match === null) return { ok: false, problem: "is not an image reference ([registry/]name[:tag][@sha256:digest], name in lower case)" };
  const [, name = "", tagged, digested] = match;
  if (name.length > maxNameLength) return { ok: false, problem: `has a name longer than ${String(maxNameLength)} characters` };
  if (tagged === undefined && digested === undefined) return { ok: false, problem: "has no tag or digest; pin the image (name@sha256:...) so that every node runs the same hook" };
  return { ok: true };
}
