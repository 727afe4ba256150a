import { createToken, Lexer, type TokenType } from "chevrotain";

/** Any word: identifiers and keywords alike, so keywords can still be property keys and member names. */
export const Name = createToken({ name: "Name", pattern: Lexer.NA });
export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/, categories: [Name] });

function keyword(word: string): TokenType {
  return createToken({ name: word[0]!.toUpperCase() + word.slice(1), pattern: new RegExp(`${word}\\b`), longer_alt: Identifier, categories: [Name] });
}

export const Import = keyword("import");
export const Model = keyword("model");
export const Input = keyword("input");
export const Labels = keyword("labels");
export const Device = keyword("device");
export const Def = keyword("def");
export const Block = keyword("block");
export const On = keyword("on");
export const Exit = keyword("exit");
export const Over = keyword("over");
export const Return = keyword("return");
export const If = keyword("if");
export const Else = keyword("else");
export const Complexity = keyword("complexity");
export const Route = keyword("route");
export const When = keyword("when");
export const Otherwise = keyword("otherwise");
export const Train = keyword("train");
export const Stage = keyword("stage");
export const Quantize = keyword("quantize");
export const Assert = keyword("assert");
export const Objective = keyword("objective");
export const And = keyword("and");
export const Or = keyword("or");
export const Not = keyword("not");
export const In = keyword("in");
export const True = keyword("true");
export const False = keyword("false");

/** `x` then blanks and a digit; or, right after a `)`, blanks and a `(` or a name (a count to put in parentheses). */
const TIMES_DIGIT = /x(?=[ \t]+[0-9])/y;
let timesAfterCall: RegExp | undefined;

function matchTimes(text: string, offset: number): RegExpExecArray | null {
  TIMES_DIGIT.lastIndex = offset;
  const digit = TIMES_DIGIT.exec(text);
  if (digit) return digit;
  let before = offset - 1;
  while (before >= 0 && (text[before] === " " || text[before] === "\t")) before--;
  if (before === offset - 1 || text[before] !== ")") return null;
  // Built at the first use: the keywords are declared below. A keyword after the `x` starts something else (`x otherwise`).
  timesAfterCall ??= new RegExp(`x(?=[ \\t]+(?:\\(|(?!(?:${keywords.map((k) => k.name.toLowerCase()).join("|")})\\b)[A-Za-z_]))`, "y");
  timesAfterCall.lastIndex = offset;
  return timesAfterCall.exec(text);
}

/**
 * `x N` after a call repeats it N times. This token is an `x` followed by blanks and a digit, or
 * one that follows a call's `)` and is followed by blanks and `(` or a name that is not a keyword:
 * `x (n - 1)` is a count, `x n - 1` one the parser asks to put in parentheses.
 */
export const Times = createToken({ name: "Times", pattern: { exec: matchTimes }, line_breaks: false, start_chars_hint: ["x"] });

export const NumberLit = createToken({ name: "NumberLit", pattern: /[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/ });
export const StringLit = createToken({ name: "StringLit", pattern: /"(?:[^"\\\n\r]|\\.)*"/ });

export const LCurly = createToken({ name: "LCurly", pattern: "{", label: "'{'" });
export const RCurly = createToken({ name: "RCurly", pattern: "}", label: "'}'" });
export const LParen = createToken({ name: "LParen", pattern: "(", label: "'('" });
export const RParen = createToken({ name: "RParen", pattern: ")", label: "')'" });
export const LBracket = createToken({ name: "LBracket", pattern: "[", label: "'['" });
export const RBracket = createToken({ name: "RBracket", pattern: "]", label: "']'" });
export const Comma = createToken({ name: "Comma", pattern: ",", label: "','" });
export const Colon = createToken({ name: "Colon", pattern: ":", label: "':'" });
export const Dot = createToken({ name: "Dot", pattern: ".", label: "'.'" });

export const CompareOp = createToken({ name: "CompareOp", pattern: Lexer.NA });
export const EqEq = createToken({ name: "EqEq", pattern: "==", categories: [CompareOp], label: "'=='" });
export const NotEq = createToken({ name: "NotEq", pattern: "!=", categories: [CompareOp], label: "'!='" });
export const LessEq = createToken({ name: "LessEq", pattern: "<=", categories: [CompareOp], label: "'<='" });
export const GreaterEq = createToken({ name: "GreaterEq", pattern: ">=", categories: [CompareOp], label: "'>='" });
export const Less = createToken({ name: "Less", pattern: "<", categories: [CompareOp], label: "'<'" });
export const Greater = createToken({ name: "Greater", pattern: ">", categories: [CompareOp], label: "'>'" });
export const Assign = createToken({ name: "Assign", pattern: "=", label: "'='" });

export const AddOp = createToken({ name: "AddOp", pattern: Lexer.NA });
export const Plus = createToken({ name: "Plus", pattern: "+", categories: [AddOp], label: "'+'" });
export const Minus = createToken({ name: "Minus", pattern: "-", categories: [AddOp], label: "'-'" });
export const MulOp = createToken({ name: "MulOp", pattern: Lexer.NA });
export const Star = createToken({ name: "Star", pattern: "*", categories: [MulOp], label: "'*'" });
export const Slash = createToken({ name: "Slash", pattern: "/", categories: [MulOp], label: "'/'" });
export const Percent = createToken({ name: "Percent", pattern: "%", categories: [MulOp], label: "'%'" });

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: "Comment", pattern: /#[^\n]*/, group: Lexer.SKIPPED });

export const keywords: readonly TokenType[] = [
  Import, Model, Input, Labels, Device, Def, Block, On, Exit, Over, Return, If, Else, Complexity, Route, When,
  Otherwise, Train, Stage, Quantize, Assert, Objective, And, Or, Not, In, True, False,
];

export const allTokens: TokenType[] = [
  WhiteSpace, Comment, StringLit, NumberLit, Times, ...keywords, Identifier, Name,
  LCurly, RCurly, LParen, RParen, LBracket, RBracket, Comma, Colon, Dot,
  EqEq, NotEq, LessEq, GreaterEq, Less, Greater, CompareOp, Assign,
  Plus, Minus, AddOp, Star, Slash, Percent, MulOp,
];

export const specLexer = new Lexer(allTokens, { positionTracking: "full", ensureOptimizations: false });

/** Units a number literal may carry; anything else after a number is not a unit. */
export const UNITS: ReadonlySet<string> = new Set([
  "B", "KB", "MB", "GB", "KiB", "MiB", "GiB",
  "K", "M", "G", "T",
  "pJ", "nJ", "uJ", "mJ", "J",
  "bps", "Kbps", "Mbps", "Gbps",
  "ns", "us", "ms", "s",
  "W", "mW",
]);
