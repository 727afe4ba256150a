/**
 * Bearer-token authentication. The token is compared through SHA-256 digests with
 * crypto.timingSafeEqual: both sides are always 32 bytes, so neither the content nor the length
 * of a wrong token changes how long the comparison takes.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { Codes, MeanetError } from "../../diagnostics/index.js";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

const UNREADABLE: Record<string, string> = {
  ENOENT: "does not exist",
  EISDIR: "is a directory, not a file",
  EACCES: "cannot be read: permission denied",
  EPERM: "cannot be read: permission denied",
};

/** ASCII whitespace: inside a token, a second word. */
const BLANK = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]);

/** Line and column (1-based, in characters) of the string index `at` of `text`. */
function lineAndColumn(text: string, at: number): string {
  const before = text.slice(0, at);
  const lineStart = before.lastIndexOf("\n") + 1;
  return `line ${before.split("\n").length}, column ${Array.from(before.slice(lineStart)).length + 1}`;
}

/**
 * Throws MN5001 when the token holds a character other than visible ASCII (0x21 to 0x7e), which
 * is all an HTTP header carries reliably: a space or line break (more than one word), a control
 * character, a non-breaking space, a letter beyond ASCII. The message names where it is in the file.
 */
function checkTokenCharacters(path: string, text: string, token: string): void {
  const offset = text.indexOf(token);
  for (let i = 0; i < token.length; ) {
    const c = token.codePointAt(i)!;
    if (c < 0x21 || c > 0x7e) {
      const where = lineAndColumn(text, offset + i);
      if (BLANK.has(c)) throw new MeanetError(Codes.FileUnreadable, `token file ${path} holds more than one word (a space or line break at ${where}); a bearer token has no spaces or line breaks`);
      const code = `U+${c.toString(16).toUpperCase().padStart(4, "0")}`;
      throw new MeanetError(Codes.FileUnreadable, `token file ${path} has a character outside visible ASCII at ${where} (${code}); a bearer token holds only the characters ! to ~ (0x21 to 0x7e)`);
    }
    i += c > 0xffff ? 2 : 1;
  }
}

/**
 * The token in a file (`--token-file` of serve, run and the generated router), trimmed of
 * surrounding whitespace and newlines; a missing, unreadable or empty file, or a token that is not
 * one word of visible ASCII, is MN5001 naming the file (and where the bad character is).
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
  checkTokenCharacters(path, text, token);
  return token;
}

/**
 * A warning when the token file may be read (or changed) by its group or by others, as ssh warns
 * about a private key file; undefined when only its owner has access, or on Windows, whose file
 * modes say nothing about that.
 */
export function tokenFileWarning(path: string): string | undefined {
  if (process.platform === "win32") return undefined;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  return `warning: token file ${path} is accessible by its group or by others (mode ${mode.toString(8).padStart(4, "0")}); \`chmod 600 ${path}\` keeps the token to its owner`;
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
