import type { IToken, TokenType } from "chevrotain";
import { Codes, type Diagnostic, type Source } from "../diagnostics/index.js";
import * as T from "./tokens.js";

/** What a keyword written where a name is declared would have named, by the token before it. */
const DECLARED_AFTER = new Map<TokenType, string>([
  [T.Def, "a def"],
  [T.Block, "a block"],
  [T.Exit, "an exit"],
  [T.Stage, "a stage"],
  [T.Model, "the model"],
  [T.Input, "the input"],
]);

/** The keyword that follows a declared name: `block on edge` misses a name rather than using `on` as one. */
const AFTER_NAME = new Map<TokenType, TokenType>([
  [T.Block, T.On],
  [T.Exit, T.Over],
]);

/** Tokens after which an expression starts: a keyword used as a name there is a use of it. */
const EXPRESSION_START: ReadonlySet<TokenType> = new Set([
  T.Assign, T.LParen, T.Comma, T.LBracket, T.Colon, T.Return, T.If, T.Times, T.And, T.Or, T.In,
  T.EqEq, T.NotEq, T.LessEq, T.GreaterEq, T.Less, T.Greater, T.Plus, T.Minus, T.Star, T.Slash, T.Percent,
]);

/** Keywords that open a section: assignments (`name = …`) belong only to the bodies of defs and blocks. */
const SECTIONS: ReadonlySet<TokenType> = new Set([T.Import, T.Model, T.Input, T.Labels, T.Device, T.Def, T.Block, T.Complexity, T.Route, T.Train, T.Stage, T.Quantize, T.Assert, T.Objective]);
const BODIES: ReadonlySet<TokenType> = new Set([T.Def, T.Block]);

/** Keywords that start an expression themselves, so they are never read as a use of a name. */
const IN_EXPRESSIONS: ReadonlySet<TokenType> = new Set([T.Not, T.True, T.False]);

/**
 * A keyword where a name is declared (`def stage(…)`, `block route on …`, `train = …`, a parameter)
 * is reported once, as a reserved word, and read as a name from then on: there and wherever the
 * same word is used as a value later in the file (`x = stage(image, 16)`), so that the one mistake
 * does not cascade into syntax errors at every use.
 */
export function readReservedNames(source: Source, tokens: IToken[]): { tokens: IToken[]; diagnostics: Diagnostic[] } {
  const keywords = new Set<TokenType>(T.keywords);
  const diagnostics: Diagnostic[] = [];
  const declared = new Set<string>();
  const out = [...tokens];
  const asName = (i: number) => (out[i] = { ...out[i]!, tokenType: T.Identifier, tokenTypeIdx: T.Identifier.tokenTypeIdx! });
  let params = -1; // depth of the parameter list of a def, or -1 outside one
  let section: TokenType | undefined; // the keyword of the section being read
  for (let i = 0; i < out.length; i++) {
    const t = out[i]!;
    const prev = out[i - 1]?.tokenType;
    if (params >= 0) {
      if (t.tokenType === T.LParen) params++;
      else if (t.tokenType === T.RParen && --params === 0) params = -1;
    } else if (t.tokenType === T.LParen && out[i - 2]?.tokenType === T.Def) params = 1;
    if (!keywords.has(t.tokenType)) continue;
    const what =
      prev && declares(out, i)
        ? DECLARED_AFTER.get(prev)!
        : params === 1 && (prev === T.LParen || prev === T.Comma)
          ? "a parameter"
          : out[i + 1]?.tokenType === T.Assign && prev !== T.Dot && section && BODIES.has(section)
            ? "a variable"
            : undefined;
    // A property written `key = value` in a section is the parser's to report (it hints at `key: value`).
    if (!what && SECTIONS.has(t.tokenType) && prev !== T.Dot) section = t.tokenType;
    if (what) {
      diagnostics.push({
        code: Codes.ExpectedToken,
        severity: "error",
        message: `\`${t.image}\` is a reserved word and cannot name ${what}`,
        span: { source, start: t.startOffset, end: t.startOffset + t.image.length },
        hint: `pick another name, e.g. \`${t.image}_\``,
      });
      declared.add(t.image);
      asName(i);
    } else if (declared.has(t.image) && !IN_EXPRESSIONS.has(t.tokenType) && prev && EXPRESSION_START.has(prev)) {
      asName(i);
    }
  }
  return { tokens: out, diagnostics };
}

/** Whether the keyword at i stands where the keyword before it declares a name: on its line, and not what follows a missing name. */
function declares(tokens: IToken[], i: number): boolean {
  const t = tokens[i]!;
  const prev = tokens[i - 1]!;
  if (!DECLARED_AFTER.has(prev.tokenType) || tokens[i - 2]?.tokenType === T.Dot || t.startLine !== prev.endLine) return false;
  const follower = AFTER_NAME.get(prev.tokenType);
  return !(follower && t.tokenType === follower && tokens[i + 1]?.tokenType !== follower);
}
