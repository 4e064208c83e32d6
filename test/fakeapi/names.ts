// Generated name suffixes with the real alphabet (k8s.io/apiserver/pkg/storage/names): no vowels,
// no confusable characters, five characters.
import { randomInt } from "node:crypto";

const alphabet = "bcdfghjklmnpqrstvwxz2456789";

export function randomSuffix(length = 5): string {
  let s = "";
  for (let i = 0; i < length; i++) s += alphabet[randomInt(alphabet.length)] ?? "x";
  return s;
}
