/**
 * `meanet fmt`: one canonical layout for a spec, from its tokens and comments, keeping its line
 * structure. Each line is indented two spaces per open `{`, `(` and `[` at its start (a line
 * that starts with a closer is dedented first); tokens are joined with one space between words,
 * around `=`, comparisons, binary arithmetic and the repetition `x`, after `,` and `:`, before
 * `{` and inside a one-line `{ … }`; none inside `(…)` and `[…]`, around `.`, between a name and
 * the `(` or `[` after it, or after a unary minus; a trailing comment
 * follows its code after one space; runs of blank lines become one, the file ends with one
 * newline. Formatting a formatted file changes nothing, and the result has exactly the original
 * tokens and comments (checked before it is returned).
 */
import type { IToken } from "chevrotain";
import { specLexer } from "./tokens.js";

/** The formatted text, or null when the text does not lex (the caller reports its diagnostics and leaves it). */
export function formatSpec(text: string): string | null {
  const lexed = specLexer.tokenize(text);
  if (lexed.errors.length) return null;
  const tokens = lexed.tokens;
  const comments = commentsOf(text, tokens);
  const byLine = new Map<number, { tokens: IToken[]; comment?: string }>();
  for (const t of tokens) {
    const line = t.startLine!;
    if (!byLine.has(line)) byLine.set(line, { tokens: [] });
    byLine.get(line)!.tokens.push(t);
  }
  for (const c of comments) {
    if (!byLine.has(c.line)) byLine.set(c.line, { tokens: [] });
    byLine.get(c.line)!.comment = c.text.replace(/\s+$/, "");
  }

  const lines = text.split("\n");
  const out: string[] = [];
  let depth = 0;
  let blank = 0;
  for (let n = 1; n <= lines.length; n++) {
    const line = byLine.get(n);
    if (!line) {
      // A line inside a multi-line token cannot occur (strings and comments end at the line's end).
      blank++;
      continue;
    }
    if (out.length && blank > 0) out.push("");
    blank = 0;
    const first = line.tokens[0];
    const opensFirst = first && CLOSERS.has(first.image) ? 1 : 0;
    const indent = "  ".repeat(Math.max(0, depth - opensFirst));
    const code = joinTokens(line.tokens);
    out.push(indent + [code, line.comment].filter((s) => s !== undefined && s !== "").join(" "));
    for (const t of line.tokens) {
      if (OPENERS.has(t.image)) depth++;
      else if (CLOSERS.has(t.image)) depth = Math.max(0, depth - 1);
    }
  }
  const result = out.join("\n") + "\n";
  if (!sameContent(text, result)) throw new Error("meanet fmt changed the spec's tokens or comments; this is a bug in meanet");
  return result;
}

const OPENERS = new Set(["{", "(", "["]);
const CLOSERS = new Set(["}", ")", "]"]);
const SPACED = new Set(["=", "==", "!=", "<", "<=", ">", ">=", "+", "*", "/", "%"]);

function isWord(t: IToken): boolean {
  return /^[A-Za-z0-9_"]/.test(t.image);
}

/** Whether a `-` at position i is unary: at the start, or after an operator, an opener, `,` or `:`. */
function unaryMinus(tokens: IToken[], i: number): boolean {
  const prev = tokens[i - 1];
  return !prev || OPENERS.has(prev.image) || prev.image === "," || prev.image === ":" || SPACED.has(prev.image) || prev.image === "-" || /^(when|in|and|or|not|return)$/.test(prev.image);
}

function joinTokens(tokens: IToken[]): string {
  let s = "";
  tokens.forEach((t, i) => {
    if (i > 0) s += spaceBetween(tokens, i) ? " " : "";
    s += t.image;
  });
  return s;
}

function spaceBetween(tokens: IToken[], i: number): boolean {
  const a = tokens[i - 1]!;
  const b = tokens[i]!;
  if (a.image === "." || b.image === ".") return false;
  if (b.image === "," || b.image === ":") return false;
  if (a.image === "," || a.image === ":") return true;
  if (b.image === "{") return true;
  // `{ a: 1 }` on one line is spaced inside; `{}` is not.
  if (a.image === "{") return b.image !== "}";
  if (b.image === "}") return true;
  if (OPENERS.has(a.image)) return false;
  if (CLOSERS.has(b.image)) return false;
  if (a.image === "-" && unaryMinus(tokens, i - 1)) return false;
  if (SPACED.has(a.image) || SPACED.has(b.image) || a.image === "-" || b.image === "-") return true;
  // A call or index: no space between a name (not a keyword such as `labels`) and its `(` or `[`.
  if ((b.image === "(" || b.image === "[") && (a.tokenType.name === "Identifier" || CLOSERS.has(a.image))) return false;
  return isWord(a) || isWord(b) || CLOSERS.has(a.image) || a.image === "}";
}

/** The comments of a text: what follows `#` outside strings, by line. */
function commentsOf(text: string, tokens: IToken[]): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let from = 0;
  const gaps: [number, number][] = [];
  for (const t of tokens) {
    gaps.push([from, t.startOffset]);
    from = t.endOffset! + 1;
  }
  gaps.push([from, text.length]);
  for (const [a, b] of gaps) {
    const gap = text.slice(a, b);
    let at = gap.indexOf("#");
    while (at >= 0) {
      const end = gap.indexOf("\n", at);
      const comment = gap.slice(at, end < 0 ? gap.length : end);
      out.push({ line: text.slice(0, a + at).split("\n").length, text: comment });
      at = end < 0 ? -1 : gap.indexOf("#", end);
    }
  }
  return out;
}

/** The same tokens (types and text) and the same comments, in order. */
function sameContent(a: string, b: string): boolean {
  const ta = specLexer.tokenize(a);
  const tb = specLexer.tokenize(b);
  if (tb.errors.length || ta.tokens.length !== tb.tokens.length) return false;
  if (ta.tokens.some((t, i) => t.image !== tb.tokens[i]!.image || t.tokenType !== tb.tokens[i]!.tokenType)) return false;
  const ca = commentsOf(a, ta.tokens).map((c) => c.text.trimEnd());
  const cb = commentsOf(b, tb.tokens).map((c) => c.text.trimEnd());
  return ca.length === cb.length && ca.every((c, i) => c === cb[i]);
}
