import { Codes, DiagnosticBag, type Span } from "../../diagnostics/index.js";
import type { AssignStmt, BlockDecl, DefDecl, Expr, Statement } from "../../parser/index.js";
import type { IrBlock, IrExit, Placement } from "../graph.js";
import { evalCall, evalExpr } from "./expr.js";
import { Abort, type BodyContext, type Frame } from "./frame.js";
import { BlockGraph, type GraphStore } from "./nodes.js";
import { describeValue, type Value } from "./values.js";

/** Past this, a spec is rejected rather than expanded: a guard against runaway repetition. */
const MAX_REPEAT = 10_000;

/** The tensor id of an exit whose value could not be lowered (its error is already reported). */
export const FAILED = -1;

/** A tensor bound by an assignment that made it: in a block's body or, for one call, in a def's. */
export interface AssignedValue {
  name: string;
  block: string;
  def: string | undefined;
  callSite: Span | undefined;
  /** The assigned expression. */
  span: Span;
  tensor: number;
  /** The nodes made while evaluating it: ids firstNode … endNode - 1. */
  firstNode: number;
  endNode: number;
}

type ExitStmt = Extract<Statement, { kind: "exit" }>;

/**
 * Lowers block bodies into graph nodes, one block at a time: runs their statements, and those of
 * the defs they call (expressions in expr.ts, def calls in defs.ts, op calls in args.ts and nodes.ts).
 */
export class BlockLowering implements BodyContext {
  graph!: BlockGraph;
  private exits: IrExit[] = [];
  /** The `over …` expression of each exit, read once the hard classes are known. */
  private classExprs = new Map<string, Expr>();
  readonly incomplete = new Set<string>();
  readonly poisoned = new Map<string, Set<string>>();
  /** Every tensor an assignment made, in every block lowered so far, for the check of unused layers. */
  readonly assigned: AssignedValue[] = [];

  constructor(
    readonly bag: DiagnosticBag,
    readonly store: GraphStore,
    readonly defs: Map<string, DefDecl>,
    readonly blocks: Map<string, IrBlock>,
    readonly globals: Map<string, Value>,
  ) {}

  lower(decl: BlockDecl, placement: Placement): { block: IrBlock; exits: IrExit[]; classExprs: Map<string, Expr> } {
    const block: IrBlock = { name: decl.name.name, placement, nodes: [], reads: [], exports: {}, span: decl.name.span };
    this.graph = new BlockGraph(this.store, block, this.bag);
    this.exits = [];
    this.classExprs = new Map();
    const frame: Frame = { vars: new Map(), scope: "", depth: 0, inDef: false };
    try {
      this.run(decl.body, frame);
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      // Lowering stopped early: the block's exits still exist for the sections that name them, and
      // the names it never reached are not news to a block that reads them.
      for (const s of decl.body) if (s.kind === "exit" && s.name.name) this.addExit(s, FAILED);
      this.incomplete.add(block.name);
    }
    const poisoned = new Set<string>();
    for (const [name, v] of frame.vars) {
      if (v.kind === "tensor" && this.store.tensors[v.id]!.block === block.name) block.exports[name] = v.id;
      else if (v.kind === "poison") poisoned.add(name);
    }
    for (const x of this.exits) {
      if (x.tensor !== FAILED) block.exports[x.name] ??= x.tensor;
      else if (!frame.vars.has(x.name)) poisoned.add(x.name);
    }
    this.poisoned.set(block.name, poisoned);
    return { block, exits: this.exits, classExprs: this.classExprs };
  }

  expr(e: Expr, frame: Frame): Value | undefined {
    return evalExpr(this, e, frame);
  }

  run(stmts: Statement[], frame: Frame): void {
    for (const s of stmts) {
      if (frame.returned) {
        this.bag.warning(Codes.UnusedValue, "statement after `return` is never used", s.span);
        return;
      }
      this.statement(s, frame);
    }
  }

  private statement(s: Statement, frame: Frame): void {
    switch (s.kind) {
      case "assign":
        return this.assign(s, frame);
      case "return": {
        if (!frame.inDef) {
          this.bag.error(Codes.BadValue, "`return` is only allowed inside a `def`", s.span, { hint: "name the tensor with `name = …`; other blocks read it as `block.name`" });
          return;
        }
        // A failed return value is already reported; poison keeps the caller quiet about it.
        frame.returned = this.expr(s.value, frame) ?? { kind: "poison" };
        return;
      }
      case "if": {
        const c = this.expr(s.condition, frame);
        if (c && c.kind !== "bool") this.bag.error(Codes.TypeMismatch, `an \`if\` condition must be true or false, not ${describeValue(c)}`, s.condition.span);
        if (c?.kind !== "bool") {
          // Neither branch runs: what either would have assigned is unknown, not undefined.
          for (const name of assignedNames([...s.then, ...s.otherwise])) frame.vars.set(name, { kind: "poison" });
          return;
        }
        this.run(c.value ? s.then : s.otherwise, frame);
        return;
      }
      case "exit":
        return this.exit(s, frame);
    }
  }

  private exit(s: ExitStmt, frame: Frame): void {
    if (frame.inDef) {
      this.bag.error(Codes.BadValue, "`exit` is only allowed at the top level of a block", s.span);
      return;
    }
    if (!s.name.name) return;
    const v = this.expr(s.value, frame);
    if (v && v.kind !== "tensor") {
      this.bag.error(Codes.TypeMismatch, `exit \`${s.name.name}\` must be a tensor of class scores, not ${describeValue(v)}`, s.value.span);
    }
    // An exit whose value failed still exists (with no tensor), so routes and rankings that name it stay quiet.
    this.addExit(s, v?.kind === "tensor" ? v.id : FAILED);
  }

  private addExit(s: ExitStmt, tensor: number): void {
    if (this.exits.some((x) => x.name === s.name.name && x.span === s.name.span)) return;
    this.exits.push({ name: s.name.name, block: this.graph.block.name, tensor, classes: { kind: "all" }, span: s.name.span });
    this.classExprs.set(s.name.name, s.classes);
  }

  private assign(s: AssignStmt, frame: Frame): void {
    if (!s.target.name) return;
    const firstNode = this.store.nodes.length;
    const v = s.repeat ? this.repeat(s, frame) : this.expr(s.value, frame);
    frame.vars.set(s.target.name, v ?? { kind: "poison" });
    if (v?.kind === "tensor" && this.store.tensors[v.id]!.producer >= firstNode) {
      this.assigned.push({ name: s.target.name, block: this.graph.block.name, def: frame.def, callSite: frame.callSite, span: s.value.span, tensor: v.id, firstNode, endNode: this.store.nodes.length });
    }
  }

  /** `f(x, …) x N`: applies f N times, feeding each output back as the first argument. */
  private repeat(s: AssignStmt, frame: Frame): Value | undefined {
    const countValue = this.expr(s.repeat!, frame);
    if (!countValue) return undefined;
    if (countValue.kind !== "number" || !Number.isInteger(countValue.value) || countValue.value < 1 || countValue.unit) {
      this.bag.error(Codes.BadValue, `a repetition count must be a whole number ≥ 1, not ${describeValue(countValue)}`, s.repeat!.span);
      return undefined;
    }
    if (countValue.value > MAX_REPEAT) {
      this.bag.error(Codes.RecursionLimit, `a repetition count above ${MAX_REPEAT} (${countValue.value}) would build a graph too large to compile`, s.repeat!.span);
      return undefined;
    }
    if (s.value.kind !== "call" || s.value.args.length === 0 || s.value.args[0]!.key) {
      this.bag.error(Codes.BadValue, "only a call whose first argument is a tensor can be repeated", s.value.span, { hint: "write `x = basic_block(x, 64) x 3`" });
      return undefined;
    }
    const call = s.value;
    let current = this.expr(call.args[0]!.value, frame);
    for (let i = 0; i < countValue.value && current; i++) {
      current = evalCall(this, call, frame, current);
    }
    return current;
  }
}

/** The names the statements assign, in `if` branches too. */
function assignedNames(stmts: Statement[]): string[] {
  return stmts.flatMap((s) => (s.kind === "assign" ? (s.target.name ? [s.target.name] : []) : s.kind === "if" ? assignedNames([...s.then, ...s.otherwise]) : []));
}
