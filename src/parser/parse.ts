import type { IRecognitionException, IToken } from "chevrotain";
import { Codes, DiagnosticBag, didYouMean, type Diagnostic, Source } from "../diagnostics/index.js";
import type { SpecFile } from "./ast.js";
import { AstBuilder, grammar } from "./toAst.js";
import { readReservedNames } from "./reserved.js";
import { Identifier, specLexer, Times } from "./tokens.js";

export interface ParseResult {
  ast: SpecFile;
  diagnostics: Diagnostic[];
}

/** Parses one spec file. Never throws on user input: every lexing and parsing problem becomes a diagnostic. */
export function parse(source: Source): ParseResult {
  const bag = new DiagnosticBag();
  const lexed = specLexer.tokenize(source.text);
  for (const e of lexed.errors) {
    const ch = source.text.slice(e.offset, e.offset + e.length);
    const printable = ch.length === 1 ? describeChar(ch) : `'${ch}'`;
    bag.error(Codes.UnexpectedCharacter, `unexpected character ${printable}`, { source, start: e.offset, end: e.offset + Math.max(1, e.length) }, {
      hint: ch.startsWith('"') ? "strings end on the same line with a closing `\"`" : ch === ";" ? "statements end at the end of the line; remove the `;`" : undefined,
    });
  }
  // The grammar recurses once per nesting level; past this, a spec is rejected before it can overflow the stack.
  const tooDeep = nestingProblem(source, lexed.tokens);
  if (tooDeep) {
    bag.add(tooDeep);
    return { ast: { items: [], span: { source, start: 0, end: source.text.length } }, diagnostics: bag.items };
  }
  const reserved = readReservedNames(source, lexed.tokens);
  bag.merge(reserved.diagnostics);
  bag.merge(countsToParenthesise(source, reserved.tokens));
  grammar.input = reserved.tokens;
  const cst = grammar.spec();
  // Recovery resynchronises a few tokens later and often trips again on what follows the first
  // mistake: keep one syntax error per line, and none within a few tokens of the previous one.
  const offsets = lexed.tokens.map((t) => t.startOffset);
  const tokenIndex = (offset: number) => {
    let lo = 0;
    let hi = offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let last: { line: number; index: number } | undefined = undefined;
  const kept = [...bag.items];
  const parsed = grammar.errors.map((e) => syntaxDiagnostic(source, e)).concat(kept).sort((a, b) => a.span!.start - b.span!.start);
  bag.items.length = 0;
  for (const d of parsed) {
    const line = source.position(d.span!.start).line;
    const index = tokenIndex(d.span!.start);
    if (last && (line === last.line || index - last.index <= 3)) continue;
    bag.add(d);
    last = { line, index };
  }
  const ast = new AstBuilder(source).visit(cst) as SpecFile;
  return { ast, diagnostics: bag.items };
}

/**
 * A repetition count that begins with a name (`x n - 1`): the marker would read only up to where
 * the grammar stops, so such a count is asked for in parentheses (`x (n - 1)`), which parses.
 */
function countsToParenthesise(source: Source, tokens: IToken[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  tokens.forEach((t, i) => {
    const next = tokens[i + 1];
    if (t.tokenType !== Times || next?.tokenType !== Identifier) return;
    const lineEnd = source.text.indexOf("\n", next.startOffset);
    const count = source.text.slice(next.startOffset, lineEnd < 0 ? undefined : lineEnd).replace(/#.*/, "").trim();
    out.push({
      code: Codes.ExpectedToken,
      severity: "error",
      message: `expected '(' but found '${next.image}': a repetition count that begins with a name goes in parentheses`,
      span: tokenSpan(source, next),
      hint: `write \`x (${count})\``,
    });
  });
  return out;
}

const MAX_NESTING = 64;

/** Brackets nested deeper than MAX_NESTING, or as many prefix operators in a row. */
function nestingProblem(source: Source, tokens: IToken[]): Diagnostic | undefined {
  let depth = 0;
  let run = 0;
  for (const t of tokens) {
    const name = t.tokenType.name;
    if (name === "LParen" || name === "LBracket" || name === "LCurly") depth++;
    else if (name === "RParen" || name === "RBracket" || name === "RCurly") depth = Math.max(0, depth - 1);
    run = name === "Minus" || name === "Not" ? run + 1 : 0;
    if (depth > MAX_NESTING || run > MAX_NESTING) {
      return {
        code: Codes.UnexpectedToken,
        severity: "error",
        message: `${depth > MAX_NESTING ? "brackets" : "prefix operators"} nested more than ${MAX_NESTING} deep`,
        span: tokenSpan(source, t),
        hint: "name intermediate values instead of nesting them",
      };
    }
  }
  return undefined;
}

function describeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (code < 32 || code === 127) return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return `'${ch}'`;
}

function tokenSpan(source: Source, t: IToken): { source: Source; start: number; end: number } {
  if (Number.isNaN(t.startOffset)) return { source, start: source.text.length, end: source.text.length };
  return { source, start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1 };
}

function syntaxDiagnostic(source: Source, e: IRecognitionException): Diagnostic {
  const t = e.token;
  const atEnd = t.tokenType.name === "EOF" || Number.isNaN(t.startOffset);
  const found = atEnd ? "end of file" : `'${t.image}'`;
  let expected = expectedFrom(e.message);
  let hint = hintFor(e, expected);
  if (expected === "'EOF'") {
    // The top level stopped at something that starts no declaration.
    expected = `a declaration (${[...TOP_LEVEL].map((k) => `\`${k}\``).join(", ")})`;
    hint = didYouMean(e.token.image, TOP_LEVEL);
  }
  const message = expected ? `expected ${expected} but found ${found}` : `unexpected ${found}`;
  let span = tokenSpan(source, t);
  // At end of file, point at the last real character so the frame shows something.
  if (atEnd && source.text.length > 0) {
    const last = source.text.trimEnd().length;
    span = { source, start: Math.max(0, last - 1), end: last };
  }
  return {
    code: e.name === "MismatchedTokenException" ? Codes.ExpectedToken : Codes.UnexpectedToken,
    severity: "error",
    message,
    span,
    hint,
  };
}

/** Chevrotain's messages list alternatives verbosely; keep a compact, readable form. */
function expectedFrom(message: string): string | undefined {
  const m = /Expecting (?:token of type )?--> (.+?) <--/.exec(message);
  if (m) return tokenLabel(m[1]!);
  const alts = /Expecting: (?:one of these possible Token sequences|expecting at least one iteration which starts with one of these possible Token sequences)::?\s*([\s\S]*?)\s*but found/.exec(message);
  if (alts) {
    const firsts = new Set<string>();
    for (const line of alts[1]!.split("\n")) {
      const seq = /^\d+\. \[([^\],]+)/.exec(line.trim());
      if (seq) firsts.add(tokenLabel(seq[1]!.trim()));
    }
    if (firsts.has("a number") && firsts.has("a name") && firsts.has("'('")) return "an expression";
    const list = [...firsts].slice(0, 6);
    if (list.length > 0) return list.join(", ");
  }
  return undefined;
}

const LABELS: Record<string, string> = {
  Identifier: "a name",
  Name: "a name",
  NumberLit: "a number",
  StringLit: "a string",
  Times: "'x'",
  CompareOp: "a comparison",
  AddOp: "'+' or '-'",
  MulOp: "'*', '/' or '%'",
};

function tokenLabel(raw: string): string {
  const name = raw.replace(/^'|'$/g, "");
  if (LABELS[name]) return LABELS[name]!;
  if (/^[A-Z][a-z]+$/.test(name)) return `'${name.toLowerCase()}'`;
  return raw.startsWith("'") ? raw : `'${raw}'`;
}

const TOP_LEVEL = new Set(["import", "model", "input", "labels", "device", "def", "block", "complexity", "route", "train", "quantize", "assert", "objective"]);

function hintFor(e: IRecognitionException, expected: string | undefined): string | undefined {
  const image = e.token.image;
  const closer = expected === "'}'" || expected === "')'" || expected === "']'";
  // A missing closer shows up as end of file or as the next declaration starting early.
  if (closer && (e.token.tokenType.name === "EOF" || TOP_LEVEL.has(image))) {
    return `is a ${expected === "'}'" ? "brace" : expected === "')'" ? "parenthesis" : "bracket"} left unclosed?`;
  }
  if (expected === "')'" && image !== ")" && image !== ",") {
    const prev = (e as IRecognitionException & { previousToken?: IToken }).previousToken;
    const nextLine = prev && !Number.isNaN(prev.endLine ?? NaN) && (e.token.startLine ?? 0) > (prev.endLine ?? 0);
    return nextLine ? "is a parenthesis left unclosed?" : "arguments are separated by commas";
  }
  if (image === "=" && expected && expected.includes("':'")) return "properties are written `key: value`";
  if (image === ":" && expected && expected.includes("'='")) return "assignments are written `name = value`";
  return undefined;
}
