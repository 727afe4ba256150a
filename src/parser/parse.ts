import type { IRecognitionException, IToken } from "chevrotain";
import { Codes, DiagnosticBag, type Diagnostic, Source } from "../diagnostics/index.js";
import type { SpecFile } from "./ast.js";
import { AstBuilder, grammar } from "./toAst.js";
import { specLexer } from "./tokens.js";

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
      hint: ch.startsWith('"') ? "strings end on the same line with a closing `\"`" : undefined,
    });
  }
  grammar.input = lexed.tokens;
  const cst = grammar.spec();
  for (const e of grammar.errors) bag.add(syntaxDiagnostic(source, e));
  const ast = new AstBuilder(source).visit(cst) as SpecFile;
  return { ast, diagnostics: bag.items };
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
  const expected = expectedFrom(e.message);
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
    hint: hintFor(e, expected),
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

const TOP_LEVEL = new Set(["import", "model", "input", "labels", "device", "def", "block", "complexity", "route", "train", "assert", "objective"]);

function hintFor(e: IRecognitionException, expected: string | undefined): string | undefined {
  const image = e.token.image;
  const closer = expected === "'}'" || expected === "')'" || expected === "']'";
  // A missing closer shows up as end of file or as the next declaration starting early.
  if (closer && (e.token.tokenType.name === "EOF" || TOP_LEVEL.has(image))) {
    return `is a ${expected === "'}'" ? "brace" : expected === "')'" ? "parenthesis" : "bracket"} left unclosed?`;
  }
  if (expected === "')'" && image !== ")") return "arguments are separated by commas";
  if (image === "=" && expected && expected.includes("':'")) return "properties are written `key: value`";
  if (image === ":" && expected && expected.includes("'='")) return "assignments are written `name = value`";
  return undefined;
}
