// request.uid of an AdmissionReview too large to parse on the event loop: JSON.parse of a few MB of
// tiny objects (a pod with 160,000 containers) holds the process for 100 ms and more, while one
// pass over the bytes that only follows nesting and strings takes a few ms. Nothing else is read
// from such a body: its answer is "allowed, unchanged", which needs the uid and nothing more.

const quote = 0x22;
const backslash = 0x5c;
const colon = 0x3a;
const comma = 0x2c;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;

const requestKey = Buffer.from('"request"');
const uidKey = Buffer.from('"uid"');

/** Index of the quote that ends the string whose opening quote is at `start`, or -1. */
function stringEnd(bytes: Uint8Array, start: number): number {
  // A plain loop: most strings here are a few bytes long, where a native indexOf per string costs more.
  for (let i = start + 1; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === backslash) i++;
    else if (byte === quote) return i;
  }
  return -1;
}

function isToken(bytes: Uint8Array, start: number, end: number, token: Uint8Array): boolean {
  if (end + 1 - start !== token.length) return false;
  for (let i = 0; i < token.length; i++) if (bytes[start + i] !== token[i]) return false;
  return true;
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * The string at `.request.uid` of a JSON object, found by one pass over the bytes (no recursion)
 * that stops there: the API server writes the uid first in the request, within the first hundred
 * bytes, so the megabytes after it are never read. Keys are compared as written: the API server
 * writes `"request"` and `"uid"` plainly and once, and a body that spells them with escapes gets no
 * uid (an HTTP 400), one that repeats them the first (JSON.parse would take the last). Nothing else
 * is validated: the answer to such a body is "allowed, unchanged" either way.
 */
export function scanReviewUid(bytes: Uint8Array): string | undefined {
  let depth = 0;
  let topIsObject = false;
  /** Whether the next string is a key of an object at depth 1 or of the request object. */
  let expectKey = false;
  /** The last such key (its token's first and last byte), until its value starts. */
  let keyStart = -1;
  let keyEnd = -1;
  /** Inside the value of the top-level "request", and it is an object. */
  let inRequest = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === colon || isSpace(byte)) continue;
    if (byte === comma) {
      expectKey = depth === 1 || (depth === 2 && inRequest);
      continue;
    }
    if (byte === closeBrace || byte === closeBracket) {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 1) inRequest = false;
      continue;
    }
    if (byte === quote && expectKey && (depth === 1 || (depth === 2 && inRequest))) {
      const end = stringEnd(bytes, i);
      if (end < 0) return undefined;
      keyStart = i;
      keyEnd = end;
      expectKey = false;
      i = end;
      continue;
    }
    // A value starts here, or goes on (the next digit of a number, letter of a literal).
    if (depth === 0 && byte === openBrace) topIsObject = true;
    if (depth === 1 && topIsObject && isToken(bytes, keyStart, keyEnd, requestKey)) {
      inRequest = byte === openBrace;
      keyStart = -1;
    } else if (depth === 2 && inRequest && isToken(bytes, keyStart, keyEnd, uidKey)) {
      return byte === quote ? stringValue(bytes, i) : undefined;
    }
    if (byte === quote) {
      const end = stringEnd(bytes, i);
      if (end < 0) return undefined;
      i = end;
    } else if (byte === openBrace || byte === openBracket) {
      depth++;
      expectKey = byte === openBrace;
    }
  }
  return undefined;
}

/** The non-empty string whose token starts at `start`, unescaped as JSON.parse does. */
function stringValue(bytes: Uint8Array, start: number): string | undefined {
  const end = stringEnd(bytes, start);
  if (end < 0) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + start, end + 1 - start).toString("utf8"));
    return typeof value === "string" && value !== "" ? value : undefined;
  } catch {
    return undefined;
  }
}
