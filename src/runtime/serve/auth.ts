/**
 * Bearer-token authentication. The token is compared through SHA-256 digests with
 * crypto.timingSafeEqual: both sides are always 32 bytes, so neither the content nor the length
 * of a wrong token changes how long the comparison takes.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { Codes, MeanetError } from "../../diagnostics/index.js";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

const UNREADABLE: Record<string, string> = {
  ENOENT: "does not exist",
  EISDIR: "is a directory, not a file",
  EACCES: "cannot be read: permission denied",
  EPERM: "cannot be read: permission denied",
};

/**
 * The token in a file (`--token-file` of serve, run and the generated router), trimmed of
 * surrounding whitespace and newlines; a missing, unreadable or empty file is MN5001 naming it.
 */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MeanetError(Codes.FileUnreadable, `token file ${path} ${(code && UNREADABLE[code]) ?? `cannot be read: ${(e as Error).message}`}`);
  }
  const token = text.trim();
  if (!token) throw new MeanetError(Codes.FileUnreadable, `token file ${path} is empty; put the bearer token clients must send in it`);
  if (/\s/.test(token)) throw new MeanetError(Codes.FileUnreadable, `token file ${path} holds more than one word; a bearer token has no spaces or line breaks`);
  return token;
}

export type AuthResult = "ok" | "missing" | "invalid";

export class BearerAuth {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  check(authorization: string | undefined): AuthResult {
    const m = authorization ? /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization) : null;
    if (!m) return "missing";
    return timingSafeEqual(digest(m[1]!), this.expected) ? "ok" : "invalid";
  }
}
