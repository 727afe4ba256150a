import type { CstElement, CstNode, IToken } from "chevrotain";
import type { Source, Span } from "../diagnostics/index.js";
import type * as A from "./ast.js";
import { SpecGrammar } from "./grammar.js";

export const grammar = new SpecGrammar();
const BaseVisitor = grammar.getBaseCstVisitorConstructor();

type Ctx = Record<string, CstElement[] | undefined>;

function isToken(e: CstElement): e is IToken {
  return (e as IToken).image !== undefined;
}

/**
 * CST → AST. Recovery can leave holes in the CST; every accessor tolerates a missing child and
 * falls back to an empty node spanning where the child should have been, so the AST is always whole.
 */
export class AstBuilder extends BaseVisitor {
  constructor(private readonly source: Source) {
    super();
    this.validateVisitor();
  }

  /** Passes each node to its own visit method, so every method can read its node's location. */
  override visit(node: CstNode | CstNode[]): unknown {
    const n = Array.isArray(node) ? node[0] : node;
    return n ? super.visit(n, n) : undefined;
  }

  private span(node: CstNode | IToken | undefined): Span {
    if (!node) return { source: this.source, start: this.source.text.length, end: this.source.text.length };
    if (isToken(node)) {
      const start = Number.isNaN(node.startOffset) ? this.source.text.length : node.startOffset;
      const end = Number.isNaN(node.endOffset ?? NaN) ? start : node.endOffset! + 1;
      return { source: this.source, start, end };
    }
    const loc = node.location;
    if (!loc || Number.isNaN(loc.startOffset)) return this.span(undefined);
    const end = loc.endOffset === undefined || Number.isNaN(loc.endOffset) ? loc.startOffset : loc.endOffset + 1;
    return { source: this.source, start: loc.startOffset, end };
  }

  private tok(ctx: Ctx, key: string, i = 0): IToken | undefined {
    const e = ctx[key]?.[i];
    return e && isToken(e) ? e : undefined;
  }

  private node(ctx: Ctx, key: string, i = 0): CstNode | undefined {
    const e = ctx[key]?.[i];
    return e && !isToken(e) ? e : undefined;
  }

  private nodes(ctx: Ctx, key: string): CstNode[] {
    return (ctx[key] ?? []).filter((e): e is CstNode => !isToken(e));
  }

  private ident(t: IToken | undefined): A.Ident {
    return { name: t && !t.isInsertedInRecovery ? t.image : "", span: this.span(t) };
  }

  private exprOf(n: CstNode | undefined): A.Expr {
    if (!n) return { kind: "name", name: "", span: this.span(undefined) };
    return this.visit(n) as A.Expr;
  }

  spec(ctx: Ctx, full?: CstNode): A.SpecFile {
    return { items: this.nodes(ctx, "item").map((n) => this.visit(n) as A.Item).filter(Boolean), span: this.span(full) };
  }

  item(ctx: Ctx): A.Item | undefined {
    for (const key of Object.keys(ctx)) {
      const n = this.node(ctx, key);
      if (n) return this.visit(n) as A.Item;
    }
    return undefined;
  }

  importDecl(ctx: Ctx): A.ImportDecl {
    const t = this.tok(ctx, "StringLit");
    return { kind: "import", path: t ? unquote(t.image) : "", span: this.span(t ?? this.tok(ctx, "Import")) };
  }

  modelDecl(ctx: Ctx): A.ModelDecl {
    return { kind: "model", name: this.ident(this.tok(ctx, "Identifier")), span: this.span(this.tok(ctx, "Model")) };
  }

  inputDecl(ctx: Ctx): A.InputDecl {
    return {
      kind: "input",
      name: this.ident(this.tok(ctx, "name")),
      dtype: this.ident(this.tok(ctx, "dtype")),
      shape: this.nodes(ctx, "expr").map((n) => this.exprOf(n)),
      span: this.span(this.tok(ctx, "Input")),
    };
  }

  labelsDecl(ctx: Ctx): A.LabelsDecl {
    return { kind: "labels", value: this.exprOf(this.node(ctx, "expr")), span: this.span(this.tok(ctx, "Labels")) };
  }

  deviceDecl(ctx: Ctx): A.DeviceDecl {
    const preset = this.tok(ctx, "preset");
    return {
      kind: "device",
      name: this.ident(this.tok(ctx, "name")),
      ...(preset ? { preset: this.ident(preset) } : {}),
      properties: this.props(this.node(ctx, "propertyBlock")),
      span: this.span(this.tok(ctx, "name")),
    };
  }

  private props(block: CstNode | undefined): A.Property[] {
    if (!block) return [];
    return this.nodes(block.children as Ctx, "property").map((n) => this.visit(n) as A.Property);
  }

  defDecl(ctx: Ctx): A.DefDecl {
    return {
      kind: "def",
      name: this.ident(this.tok(ctx, "Identifier")),
      params: this.nodes(ctx, "param").map((n) => this.visit(n) as A.Param),
      body: this.statements(this.node(ctx, "statementBlock")),
      span: this.span(this.tok(ctx, "Identifier")),
    };
  }

  param(ctx: Ctx, full?: CstNode): A.Param {
    const def = this.node(ctx, "expr");
    return { name: this.ident(this.tok(ctx, "Identifier")), ...(def ? { default: this.exprOf(def) } : {}), span: this.span(full) };
  }

  blockDecl(ctx: Ctx): A.BlockDecl {
    return {
      kind: "block",
      name: this.ident(this.tok(ctx, "name")),
      device: this.ident(this.tok(ctx, "device")),
      body: this.statements(this.node(ctx, "statementBlock")),
      span: this.span(this.tok(ctx, "name")),
    };
  }

  private statements(block: CstNode | undefined): A.Statement[] {
    if (!block) return [];
    return this.nodes(block.children as Ctx, "statement")
      .map((n) => this.visit(n) as A.Statement | undefined)
      .filter((s): s is A.Statement => s !== undefined);
  }

  statementBlock(ctx: Ctx): A.Statement[] {
    return this.nodes(ctx, "statement").map((n) => this.visit(n) as A.Statement);
  }

  statement(ctx: Ctx): A.Statement | undefined {
    for (const key of Object.keys(ctx)) {
      const n = this.node(ctx, key);
      if (n) return this.visit(n) as A.Statement;
    }
    return undefined;
  }

  assignStmt(ctx: Ctx, full?: CstNode): A.AssignStmt {
    const count = this.node(ctx, "count");
    return {
      kind: "assign",
      target: this.ident(this.tok(ctx, "Identifier")),
      value: this.exprOf(this.node(ctx, "expr")),
      ...(count ? { repeat: this.exprOf(count) } : {}),
      span: this.span(full),
    };
  }

  exitStmt(ctx: Ctx, full?: CstNode): A.ExitStmt {
    return {
      kind: "exit",
      name: this.ident(this.tok(ctx, "Identifier")),
      classes: this.exprOf(this.node(ctx, "classes")),
      value: this.exprOf(this.node(ctx, "value")),
      span: this.span(full),
    };
  }

  returnStmt(ctx: Ctx, full?: CstNode): A.ReturnStmt {
    return { kind: "return", value: this.exprOf(this.node(ctx, "expr")), span: this.span(full) };
  }

  ifStmt(ctx: Ctx): A.IfStmt {
    const elseIf = this.node(ctx, "elseIf");
    return {
      kind: "if",
      condition: this.exprOf(this.node(ctx, "expr")),
      then: this.statements(this.node(ctx, "then")),
      otherwise: elseIf ? [this.visit(elseIf) as A.IfStmt] : this.statements(this.node(ctx, "otherwise")),
      span: this.span(this.tok(ctx, "If")),
    };
  }

  complexityDecl(ctx: Ctx): A.ComplexityDecl {
    return { kind: "complexity", properties: this.props(this.node(ctx, "propertyBlock")), span: this.span(this.tok(ctx, "Complexity")) };
  }

  routeDecl(ctx: Ctx): A.RouteDecl {
    return { kind: "route", rules: this.nodes(ctx, "routeRule").map((n) => this.visit(n) as A.RouteRule), span: this.span(this.tok(ctx, "Route")) };
  }

  routeRule(ctx: Ctx, full?: CstNode): A.RouteRule {
    const cond = this.node(ctx, "expr");
    return { target: this.ident(this.tok(ctx, "Name")), ...(cond ? { condition: this.exprOf(cond) } : {}), span: this.span(full) };
  }

  trainDecl(ctx: Ctx): A.TrainDecl {
    return {
      kind: "train",
      properties: this.nodes(ctx, "property").map((n) => this.visit(n) as A.Property),
      stages: this.nodes(ctx, "stageDecl").map((n) => this.visit(n) as A.StageDecl),
      span: this.span(this.tok(ctx, "Train")),
    };
  }

  stageDecl(ctx: Ctx): A.StageDecl {
    return { name: this.ident(this.tok(ctx, "Identifier")), properties: this.props(this.node(ctx, "propertyBlock")), span: this.span(this.tok(ctx, "Identifier")) };
  }

  quantizeDecl(ctx: Ctx): A.QuantizeDecl {
    return { kind: "quantize", properties: this.props(this.node(ctx, "propertyBlock")), span: this.span(this.tok(ctx, "Quantize")) };
  }

  assertDecl(ctx: Ctx, full?: CstNode): A.AssertDecl {
    return { kind: "assert", condition: this.exprOf(this.node(ctx, "expr")), span: this.span(full) };
  }

  objectiveDecl(ctx: Ctx): A.ObjectiveDecl {
    return { kind: "objective", value: this.ident(this.tok(ctx, "Identifier")), span: this.span(this.tok(ctx, "Objective")) };
  }

  propertyBlock(ctx: Ctx): A.Property[] {
    return this.nodes(ctx, "property").map((n) => this.visit(n) as A.Property);
  }

  property(ctx: Ctx, full?: CstNode): A.Property {
    return { key: this.ident(this.tok(ctx, "Name")), value: this.exprOf(this.node(ctx, "expr")), span: this.span(full) };
  }

  private binaryChain(ctx: Ctx, full: CstNode | undefined): A.Expr {
    const operands = this.nodes(ctx, "operands").map((n) => this.exprOf(n));
    const ops = (ctx.ops ?? []).filter(isToken);
    let acc = operands[0] ?? this.exprOf(undefined);
    for (let i = 0; i < ops.length && i + 1 < operands.length; i++) {
      const right = operands[i + 1]!;
      acc = {
        kind: "binary",
        op: ops[i]!.image as A.BinaryOp,
        opSpan: this.span(ops[i]),
        left: acc,
        right,
        span: { source: this.source, start: acc.span.start, end: right.span.end },
      };
    }
    void full;
    return acc;
  }

  expr(ctx: Ctx, full?: CstNode): A.Expr {
    return this.binaryChain(ctx, full);
  }
  andExpr(ctx: Ctx, full?: CstNode): A.Expr {
    return this.binaryChain(ctx, full);
  }
  comparison(ctx: Ctx, full?: CstNode): A.Expr {
    return this.binaryChain(ctx, full);
  }
  additive(ctx: Ctx, full?: CstNode): A.Expr {
    return this.binaryChain(ctx, full);
  }
  multiplicative(ctx: Ctx, full?: CstNode): A.Expr {
    return this.binaryChain(ctx, full);
  }

  notExpr(ctx: Ctx, full?: CstNode): A.Expr {
    const inner = this.node(ctx, "notExpr");
    if (inner) return { kind: "unary", op: "not", operand: this.exprOf(inner), span: this.span(full) };
    return this.exprOf(this.node(ctx, "comparison"));
  }

  unary(ctx: Ctx, full?: CstNode): A.Expr {
    const inner = this.node(ctx, "unary");
    if (inner) {
      const operand = this.exprOf(inner);
      // Fold negative literals so `-1` is a plain number.
      if (operand.kind === "number") return { ...operand, value: -operand.value, text: `-${operand.text}`, span: this.span(full) };
      return { kind: "unary", op: "-", operand, span: this.span(full) };
    }
    return this.exprOf(this.node(ctx, "postfix"));
  }

  postfix(ctx: Ctx): A.Expr {
    let acc = this.exprOf(this.node(ctx, "primary"));
    for (const s of this.nodes(ctx, "suffixes")) {
      const sc = s.children as Ctx;
      const end = this.span(s).end;
      if (s.name === "member") {
        acc = { kind: "member", object: acc, member: this.ident(this.tok(sc, "Name")), span: { source: this.source, start: acc.span.start, end } };
      } else {
        const args = this.nodes(sc, "argument").map((a) => this.visit(a) as A.Argument);
        acc = { kind: "call", callee: acc, args, span: { source: this.source, start: acc.span.start, end } };
      }
    }
    return acc;
  }

  member(): void {}
  callArgs(): void {}

  argument(ctx: Ctx, full?: CstNode): A.Argument {
    const key = this.tok(ctx, "key");
    return { ...(key ? { key: this.ident(key) } : {}), value: this.exprOf(this.node(ctx, "expr")), span: this.span(full) };
  }

  primary(ctx: Ctx, full?: CstNode): A.Expr {
    const span = this.span(full);
    const num = this.tok(ctx, "NumberLit");
    if (num) {
      const unit = this.tok(ctx, "unit");
      return { kind: "number", value: Number(num.image), text: num.image, ...(unit ? { unit: unit.image } : {}), span };
    }
    const str = this.tok(ctx, "StringLit");
    if (str) return { kind: "string", value: unquote(str.image), span };
    if (this.tok(ctx, "True")) return { kind: "bool", value: true, span };
    if (this.tok(ctx, "False")) return { kind: "bool", value: false, span };
    const id = this.tok(ctx, "Identifier");
    if (id) return { kind: "name", name: id.isInsertedInRecovery ? "" : id.image, span };
    if (this.tok(ctx, "LBracket")) return { kind: "list", elements: this.nodes(ctx, "elements").map((n) => this.exprOf(n)), span };
    return this.exprOf(this.node(ctx, "expr"));
  }
}

function unquote(image: string): string {
  const body = image.slice(1, -1);
  return body.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c));
}
