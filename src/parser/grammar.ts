import { CstParser, type CstNode, type IToken } from "chevrotain";
import * as T from "./tokens.js";

/** The grammar alone: no semantic actions. Each rule's doc comment is its production (see dsl/grammar.ebnf). */
export class SpecGrammar extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: true, nodeLocationTracking: "full", maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  /** spec = { item } ; */
  spec = this.RULE("spec", () => {
    this.MANY(() => this.SUBRULE(this.item));
  });

  /** item = import | model | input | labels | device | def | block | complexity | route | train | quantize | assert | objective ; */
  item = this.RULE("item", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.importDecl) },
      { ALT: () => this.SUBRULE(this.modelDecl) },
      { ALT: () => this.SUBRULE(this.inputDecl) },
      { ALT: () => this.SUBRULE(this.labelsDecl) },
      { ALT: () => this.SUBRULE(this.deviceDecl) },
      { ALT: () => this.SUBRULE(this.defDecl) },
      { ALT: () => this.SUBRULE(this.blockDecl) },
      { ALT: () => this.SUBRULE(this.complexityDecl) },
      { ALT: () => this.SUBRULE(this.routeDecl) },
      { ALT: () => this.SUBRULE(this.trainDecl) },
      { ALT: () => this.SUBRULE(this.quantizeDecl) },
      { ALT: () => this.SUBRULE(this.assertDecl) },
      { ALT: () => this.SUBRULE(this.objectiveDecl) },
    ]);
  });

  /** import = "import" STRING ; */
  importDecl = this.RULE("importDecl", () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.StringLit);
  });

  /** model = "model" IDENT ; */
  modelDecl = this.RULE("modelDecl", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier);
  });

  /** input = "input" IDENT ":" IDENT "[" expr { "," expr } "]" ; */
  inputDecl = this.RULE("inputDecl", () => {
    this.CONSUME(T.Input);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.CONSUME2(T.Identifier, { LABEL: "dtype" });
    this.CONSUME(T.LBracket);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expr) });
    this.CONSUME(T.RBracket);
  });

  /** labels = "labels" expr ; */
  labelsDecl = this.RULE("labelsDecl", () => {
    this.CONSUME(T.Labels);
    this.SUBRULE(this.expr);
  });

  /** device = "device" NAME [ ":" IDENT ] "{" { property } "}" ; */
  deviceDecl = this.RULE("deviceDecl", () => {
    this.CONSUME(T.Device);
    this.CONSUME(T.Name, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.CONSUME(T.Identifier, { LABEL: "preset" });
    });
    this.SUBRULE(this.propertyBlock);
  });

  /** def = "def" IDENT "(" [ param { "," param } ] ")" "{" { statement } "}" ; */
  defDecl = this.RULE("defDecl", () => {
    this.CONSUME(T.Def);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.param) });
    this.CONSUME(T.RParen);
    this.SUBRULE(this.statementBlock);
  });

  /** param = IDENT [ "=" expr ] ; */
  param = this.RULE("param", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Assign);
      this.SUBRULE(this.expr);
    });
  });

  /** block = "block" IDENT "on" NAME "{" { statement } "}" ; */
  blockDecl = this.RULE("blockDecl", () => {
    this.CONSUME(T.Block);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.On);
    this.CONSUME(T.Name, { LABEL: "device" });
    this.SUBRULE(this.statementBlock);
  });

  /** statementBlock = "{" { statement } "}" ; */
  statementBlock = this.RULE("statementBlock", () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.statement));
    this.CONSUME(T.RCurly);
  });

  /** statement = assign | exitStmt | returnStmt | ifStmt ; */
  statement = this.RULE("statement", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.assignStmt) },
      { ALT: () => this.SUBRULE(this.exitStmt) },
      { ALT: () => this.SUBRULE(this.returnStmt) },
      { ALT: () => this.SUBRULE(this.ifStmt) },
    ]);
  });

  /** assign = IDENT "=" expr [ "x" expr ] ; */
  assignStmt = this.RULE("assignStmt", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Assign);
    this.SUBRULE(this.expr);
    this.OPTION(() => {
      this.CONSUME(T.Times);
      this.SUBRULE2(this.expr, { LABEL: "count" });
    });
  });

  /** exitStmt = "exit" IDENT "over" expr "=" expr ; */
  exitStmt = this.RULE("exitStmt", () => {
    this.CONSUME(T.Exit);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Over);
    this.SUBRULE(this.expr, { LABEL: "classes" });
    this.CONSUME(T.Assign);
    this.SUBRULE2(this.expr, { LABEL: "value" });
  });

  /** returnStmt = "return" expr ; */
  returnStmt = this.RULE("returnStmt", () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expr);
  });

  /** ifStmt = "if" expr statementBlock [ "else" ( ifStmt | statementBlock ) ] ; */
  ifStmt = this.RULE("ifStmt", () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.expr);
    this.SUBRULE(this.statementBlock, { LABEL: "then" });
    this.OPTION(() => {
      this.CONSUME(T.Else);
      this.OR([
        { ALT: () => this.SUBRULE(this.ifStmt, { LABEL: "elseIf" }) },
        { ALT: () => this.SUBRULE2(this.statementBlock, { LABEL: "otherwise" }) },
      ]);
    });
  });

  /** complexity = "complexity" "{" { property } "}" ; */
  complexityDecl = this.RULE("complexityDecl", () => {
    this.CONSUME(T.Complexity);
    this.SUBRULE(this.propertyBlock);
  });

  /** route = "route" "{" { routeRule } "}" ; */
  routeDecl = this.RULE("routeDecl", () => {
    this.CONSUME(T.Route);
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.routeRule));
    this.CONSUME(T.RCurly);
  });

  /** routeRule = NAME ( "when" expr | "otherwise" ) ; */
  routeRule = this.RULE("routeRule", () => {
    this.CONSUME(T.Name);
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.When);
          this.SUBRULE(this.expr);
        },
      },
      { ALT: () => this.CONSUME(T.Otherwise) },
    ]);
  });

  /** train = "train" "{" { stage | property [ "," ] } "}" ; */
  trainDecl = this.RULE("trainDecl", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.LCurly);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.stageDecl) },
        {
          ALT: () => {
            this.SUBRULE(this.property);
            this.OPTION(() => this.CONSUME(T.Comma));
          },
        },
      ]),
    );
    this.CONSUME(T.RCurly);
  });

  /** stage = "stage" IDENT "{" { property } "}" ; */
  stageDecl = this.RULE("stageDecl", () => {
    this.CONSUME(T.Stage);
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.propertyBlock);
  });

  /** quantize = "quantize" "{" { property } "}" ; */
  quantizeDecl = this.RULE("quantizeDecl", () => {
    this.CONSUME(T.Quantize);
    this.SUBRULE(this.propertyBlock);
  });

  /** assert = "assert" expr ; */
  assertDecl = this.RULE("assertDecl", () => {
    this.CONSUME(T.Assert);
    this.SUBRULE(this.expr);
  });

  /** objective = "objective" IDENT ; */
  objectiveDecl = this.RULE("objectiveDecl", () => {
    this.CONSUME(T.Objective);
    this.CONSUME(T.Identifier);
  });

  /** propertyBlock = "{" { property [ "," ] } "}" ; */
  propertyBlock = this.RULE("propertyBlock", () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.SUBRULE(this.property);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RCurly);
  });

  /** property = NAME ":" expr ; */
  property = this.RULE("property", () => {
    this.CONSUME(T.Name);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.expr);
  });

  /** expr = andExpr { "or" andExpr } ; */
  expr = this.RULE("expr", () => {
    this.SUBRULE(this.andExpr, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.Or, { LABEL: "ops" });
      this.SUBRULE2(this.andExpr, { LABEL: "operands" });
    });
  });

  /** andExpr = notExpr { "and" notExpr } ; */
  andExpr = this.RULE("andExpr", () => {
    this.SUBRULE(this.notExpr, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.And, { LABEL: "ops" });
      this.SUBRULE2(this.notExpr, { LABEL: "operands" });
    });
  });

  /** notExpr = "not" notExpr | comparison ; */
  notExpr = this.RULE("notExpr", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Not);
          this.SUBRULE(this.notExpr);
        },
      },
      { ALT: () => this.SUBRULE(this.comparison) },
    ]);
  });

  /** comparison = additive [ ( COMPARE_OP | "in" ) additive ] ; */
  comparison = this.RULE("comparison", () => {
    this.SUBRULE(this.additive, { LABEL: "operands" });
    this.OPTION(() => {
      this.OR([{ ALT: () => this.CONSUME(T.CompareOp, { LABEL: "ops" }) }, { ALT: () => this.CONSUME(T.In, { LABEL: "ops" }) }]);
      this.SUBRULE2(this.additive, { LABEL: "operands" });
    });
  });

  /** additive = multiplicative { ("+" | "-") multiplicative } ; */
  additive = this.RULE("additive", () => {
    this.SUBRULE(this.multiplicative, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.AddOp, { LABEL: "ops" });
      this.SUBRULE2(this.multiplicative, { LABEL: "operands" });
    });
  });

  /** multiplicative = unary { ("*" | "/" | "%") unary } ; */
  multiplicative = this.RULE("multiplicative", () => {
    this.SUBRULE(this.unary, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.MulOp, { LABEL: "ops" });
      this.SUBRULE2(this.unary, { LABEL: "operands" });
    });
  });

  /** unary = "-" unary | postfix ; */
  unary = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.postfix) },
    ]);
  });

  /** postfix = primary { "." NAME | "(" [ argument { "," argument } ] ")" } ; */
  postfix = this.RULE("postfix", () => {
    this.SUBRULE(this.primary);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.member, { LABEL: "suffixes" }) },
        { ALT: () => this.SUBRULE(this.callArgs, { LABEL: "suffixes" }) },
      ]),
    );
  });

  /** member = "." NAME ; */
  member = this.RULE("member", () => {
    this.CONSUME(T.Dot);
    this.CONSUME(T.Name);
  });

  /** callArgs = "(" [ argument { "," argument } ] ")" ; */
  callArgs = this.RULE("callArgs", () => {
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.argument) });
    this.CONSUME(T.RParen);
  });

  /** argument = [ NAME ":" ] expr ; */
  argument = this.RULE("argument", () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.Colon,
      DEF: () => {
        this.CONSUME(T.Name, { LABEL: "key" });
        this.CONSUME(T.Colon);
      },
    });
    this.SUBRULE(this.expr);
  });

  /** primary = NUMBER [ UNIT ] | STRING | "true" | "false" | IDENT | "(" expr ")" | "[" [ expr { "," expr } ] "]" ; */
  primary = this.RULE("primary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.NumberLit);
          this.OPTION2({
            // A unit follows its number on the same line: `2 MiB`; a name on the next line starts something else.
            GATE: () => this.LA(1).tokenType === T.Identifier && T.UNITS.has(this.LA(1).image) && this.LA(1).startLine === this.LA(0).endLine,
            DEF: () => this.CONSUME(T.Identifier, { LABEL: "unit" }),
          });
        },
      },
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME2(T.Identifier) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.expr);
          this.CONSUME(T.RParen);
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBracket);
          this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE2(this.expr, { LABEL: "elements" }) });
          this.CONSUME(T.RBracket);
        },
      },
    ]);
  });
}

export type { CstNode, IToken };
