import { Codes, DiagnosticBag, didYouMean, type Span } from "../../diagnostics/index.js";
import type { AssignStmt, BlockDecl, CallExpr, DefDecl, Expr, Statement } from "../../parser/index.js";
import type { AttrValue, BlockRead, IrBlock, IrExit, IrNode, IrTensor, Placement, Shape } from "../graph.js";
import { isProblem, lookupOp, opNames, type OpDef, type ShapeInput } from "../ops/index.js";
import { describeValue, UNIT_SCALE, type Value } from "./values.js";

/** Past these, a spec is rejected rather than expanded: a guard against runaway repetition. */
const MAX_DEPTH = 48;
const MAX_NODES = 50_000;
const MAX_REPEAT = 10_000;

interface CallArg {
  key: string | undefined;
  keySpan: Span;
  value: Value;
  span: Span;
  text: string;
}

/** The tensor id of an exit whose value could not be lowered (its error is already reported). */
export const FAILED = -1;

const BUILTINS = ["channels", "height", "width", "grad", "min", "max"] as const;

export interface GraphStore {
  tensors: IrTensor[];
  nodes: IrNode[];
  /** Shapes by tensor id; undefined where inference failed (already reported). */
  shapes: (Shape | undefined)[];
}

interface Frame {
  vars: Map<string, Value>;
  /** Def call path, used to name nodes. */
  scope: string;
  depth: number;
  inDef: boolean;
  /** The def whose body runs, and the call in the block's own body that led there. */
  def?: string;
  callSite?: Span;
  returned?: Value;
}

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

class Abort extends Error {}

/** Expands defs and lowers block bodies into graph nodes, inferring each node's shape as it is made. */
export class BlockLowering {
  private block!: IrBlock;
  private exits: IrExit[] = [];
  /** The `over …` expression of each exit, read once the hard classes are known. */
  private classExprs = new Map<string, Expr>();
  private counters = new Map<string, number>();
  private defCounters = new Map<string, number>();
  /** Blocks lowered without a block they read (a cycle, already reported): their missing tensors are not news. */
  private incomplete = new Set<string>();
  /** Every tensor an assignment made, in every block lowered so far, for the check of unused layers. */
  readonly assigned: AssignedValue[] = [];

  constructor(
    private readonly bag: DiagnosticBag,
    private readonly store: GraphStore,
    private readonly defs: Map<string, DefDecl>,
    private readonly blocks: Map<string, IrBlock>,
    private readonly globals: Map<string, Value>,
  ) {}

  lower(decl: BlockDecl, placement: Placement): { block: IrBlock; exits: IrExit[]; classExprs: Map<string, Expr> } {
    this.block = { name: decl.name.name, placement, nodes: [], reads: [], exports: {}, span: decl.name.span };
    this.exits = [];
    this.classExprs = new Map();
    this.counters.clear();
    this.defCounters.clear();
    const frame: Frame = { vars: new Map(), scope: "", depth: 0, inDef: false };
    try {
      this.run(decl.body, frame);
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
      // Lowering stopped early: the block's exits still exist for the sections that name them.
      for (const s of decl.body) if (s.kind === "exit" && s.name.name) this.addExit(s, FAILED);
    }
    for (const [name, v] of frame.vars) if (v.kind === "tensor" && this.store.tensors[v.id]!.block === this.block.name) this.block.exports[name] = v.id;
    for (const x of this.exits) if (x.tensor !== FAILED) this.block.exports[x.name] ??= x.tensor;
    return { block: this.block, exits: this.exits, classExprs: this.classExprs };
  }

  private run(stmts: Statement[], frame: Frame): void {
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
        if (!c) return;
        if (c.kind !== "bool") {
          this.bag.error(Codes.TypeMismatch, `an \`if\` condition must be true or false, not ${describeValue(c)}`, s.condition.span);
          return;
        }
        this.run(c.value ? s.then : s.otherwise, frame);
        return;
      }
      case "exit": {
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
        return;
      }
    }
  }

  private addExit(s: Extract<Statement, { kind: "exit" }>, tensor: number): void {
    if (this.exits.some((x) => x.name === s.name.name && x.span === s.name.span)) return;
    this.exits.push({ name: s.name.name, block: this.block.name, tensor, classes: { kind: "all" }, span: s.name.span });
    this.classExprs.set(s.name.name, s.classes);
  }

  private assign(s: AssignStmt, frame: Frame): void {
    if (!s.target.name) return;
    const firstNode = this.store.nodes.length;
    let v: Value | undefined;
    if (s.repeat) {
      v = this.repeat(s, frame);
    } else {
      v = this.expr(s.value, frame);
    }
    frame.vars.set(s.target.name, v ?? { kind: "poison" });
    if (v?.kind === "tensor" && this.store.tensors[v.id]!.producer >= firstNode) {
      this.assigned.push({ name: s.target.name, block: this.block.name, def: frame.def, callSite: frame.callSite, span: s.value.span, tensor: v.id, firstNode, endNode: this.store.nodes.length });
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
      current = this.call(call, frame, current);
    }
    return current;
  }

  private expr(e: Expr, frame: Frame): Value | undefined {
    switch (e.kind) {
      case "number":
        return { kind: "number", value: e.value, unit: e.unit };
      case "string":
        return { kind: "string", value: e.value };
      case "bool":
        return { kind: "bool", value: e.value };
      case "list": {
        const items: Value[] = [];
        for (const el of e.elements) {
          const v = this.expr(el, frame);
          if (!v) return undefined;
          items.push(v);
        }
        return { kind: "list", items };
      }
      case "name": {
        if (!e.name) return undefined;
        const v = frame.vars.get(e.name) ?? this.globals.get(e.name);
        if (v?.kind === "poison") return undefined;
        if (v) return v;
        return { kind: "word", name: e.name, span: e.span };
      }
      case "member":
        return this.member(e, frame);
      case "call":
        return this.call(e, frame, undefined);
      case "unary": {
        const v = this.expr(e.operand, frame);
        if (!v) return undefined;
        if (e.op === "not") {
          if (v.kind === "bool") return { kind: "bool", value: !v.value };
        } else if (v.kind === "number") return { kind: "number", value: -v.value, unit: v.unit };
        this.bag.error(Codes.TypeMismatch, `\`${e.op}\` cannot apply to ${describeValue(v)}`, e.span);
        return undefined;
      }
      case "binary":
        return this.binary(e, frame);
    }
  }

  private binary(e: Extract<Expr, { kind: "binary" }>, frame: Frame): Value | undefined {
    const l = this.expr(e.left, frame);
    const r = this.expr(e.right, frame);
    if (!l || !r) return undefined;
    const bad = (): undefined => {
      this.bag.error(Codes.TypeMismatch, `\`${e.op}\` cannot combine ${describeValue(l)} and ${describeValue(r)}`, e.opSpan, {
        hint: l.kind === "word" ? `\`${l.name}\` is not defined here` : r.kind === "word" ? `\`${r.name}\` is not defined here` : undefined,
      });
      return undefined;
    };
    if (e.op === "and" || e.op === "or") {
      if (l.kind !== "bool" || r.kind !== "bool") return bad();
      return { kind: "bool", value: e.op === "and" ? l.value && r.value : l.value || r.value };
    }
    if (e.op === "==" || e.op === "!=") {
      const eq = l.kind === r.kind && JSON.stringify(strip(l)) === JSON.stringify(strip(r));
      if (l.kind === "tensor" || r.kind === "tensor") return bad();
      return { kind: "bool", value: e.op === "==" ? eq : !eq };
    }
    if (l.kind !== "number" || r.kind !== "number") return bad();
    const a = l.value;
    // Quantities in different units of one dimension combine in the left operand's unit.
    const b = l.unit && r.unit && l.unit !== r.unit && UNIT_SCALE[l.unit] && UNIT_SCALE[r.unit] ? (r.value * UNIT_SCALE[r.unit]!.scale) / UNIT_SCALE[l.unit]!.scale : r.value;
    switch (e.op) {
      case "+":
        return { kind: "number", value: a + b, unit: l.unit ?? r.unit };
      case "-":
        return { kind: "number", value: a - b, unit: l.unit ?? r.unit };
      case "*":
        return { kind: "number", value: a * b, unit: l.unit ?? r.unit };
      case "/":
        if (b === 0) {
          this.bag.error(Codes.BadValue, "division by zero", e.span);
          return undefined;
        }
        return { kind: "number", value: a / b, unit: l.unit };
      case "%":
        if (b === 0) {
          this.bag.error(Codes.BadValue, "remainder by zero", e.span);
          return undefined;
        }
        return { kind: "number", value: a % b, unit: l.unit };
      case "<":
        return { kind: "bool", value: a < b };
      case "<=":
        return { kind: "bool", value: a <= b };
      case ">":
        return { kind: "bool", value: a > b };
      case ">=":
        return { kind: "bool", value: a >= b };
      default:
        return bad();
    }
  }

  private member(e: Extract<Expr, { kind: "member" }>, frame: Frame): Value | undefined {
    const obj = this.expr(e.object, frame);
    if (!obj) return undefined;
    if (obj.kind === "word") {
      this.unknownName(obj.name, obj.span, frame);
      return undefined;
    }
    if (obj.kind !== "block") {
      this.bag.error(Codes.TypeMismatch, `\`.${e.member.name}\` needs a block on its left, not ${describeValue(obj)}`, e.span);
      return undefined;
    }
    const target = this.blocks.get(obj.name);
    if (!target) {
      // Blocks are lowered after the blocks they read, so an unlowered one is this block or part of a cycle (already reported).
      if (obj.name === this.block.name) {
        this.bag.error(Codes.BlockCycle, `block \`${this.block.name}\` cannot read its own tensors as \`${obj.name}.${e.member.name}\``, e.span, {
          hint: `inside the block, write \`${e.member.name}\``,
        });
      } else this.incomplete.add(this.block.name);
      return undefined;
    }
    const id = target.exports[e.member.name];
    if (id === undefined && this.incomplete.has(obj.name)) return undefined;
    if (id === undefined) {
      this.bag.error(Codes.UnknownMember, `block \`${obj.name}\` has no tensor named \`${e.member.name}\``, e.member.span, {
        hint: didYouMean(e.member.name, Object.keys(target.exports)) ?? `it names: ${Object.keys(target.exports).join(", ") || "nothing"}`,
      });
      return undefined;
    }
    return { kind: "tensor", id, label: `${obj.name}.${e.member.name}`, gradient: false };
  }

  private unknownName(name: string, span: Span, frame: Frame): void {
    const candidates = [...frame.vars.keys(), ...this.globals.keys()];
    this.bag.error(Codes.UnknownName, `\`${name}\` is not defined`, span, { hint: didYouMean(name, candidates) });
  }

  /** Calls an op, a def or a built-in. `first` replaces the first argument (for repetition). */
  private call(e: CallExpr, frame: Frame, first: Value | undefined): Value | undefined {
    if (e.callee.kind !== "name") {
      this.bag.error(Codes.UnknownFunction, "only named layers and defs can be called", e.callee.span);
      return undefined;
    }
    const name = e.callee.name;
    if (!name) return undefined;
    const def = this.defs.get(name);
    const op = def ? undefined : lookupOp(name);
    if (!def && !op && !(BUILTINS as readonly string[]).includes(name)) {
      this.bag.error(Codes.UnknownFunction, `unknown layer or def \`${name}\``, e.callee.span, {
        hint: didYouMean(name, [...opNames(), ...this.defs.keys(), ...BUILTINS]),
      });
      return undefined;
    }
    const args: CallArg[] = [];
    for (let i = 0; i < e.args.length; i++) {
      const a = e.args[i]!;
      const v = i === 0 && first ? first : this.expr(a.value, frame);
      if (!v) return undefined;
      args.push({ key: a.key?.name, keySpan: a.key?.span ?? a.value.span, value: v, span: a.value.span, text: sourceText(a.value.span) });
    }
    if (def) return this.expand(def, e, args, frame);
    if (op) return this.node(op, e, args, frame);
    return this.builtin(name, e, args, frame);
  }

  private builtin(name: string, e: CallExpr, args: { value: Value; span: Span }[], frame: Frame): Value | undefined {
    void frame;
    if (name === "min" || name === "max") {
      if (args.length === 0 || args.some((a) => a.value.kind !== "number")) {
        this.bag.error(Codes.TypeMismatch, `\`${name}\` takes one or more numbers`, e.span);
        return undefined;
      }
      const nums = args.map((a) => (a.value as { value: number }).value);
      return { kind: "number", value: name === "min" ? Math.min(...nums) : Math.max(...nums), unit: undefined };
    }
    const t = args[0]?.value;
    if (args.length !== 1 || !t || t.kind !== "tensor") {
      this.bag.error(Codes.TypeMismatch, `\`${name}\` takes exactly one tensor`, e.span);
      return undefined;
    }
    if (name === "grad") return { ...t, gradient: true };
    const shape = this.store.shapes[t.id];
    if (!shape) throw new Abort();
    const axis = name === "channels" ? shape.length - 1 : name === "height" ? 0 : 1;
    if (shape.length !== 3 && name !== "channels") {
      this.bag.error(Codes.RankMismatch, `\`${name}\` needs a feature map H×W×C, but \`${args[0]!.span.source.text.slice(args[0]!.span.start, args[0]!.span.end)}\` is ${shape.join("×")}`, e.span);
      return undefined;
    }
    return { kind: "number", value: shape[axis]!, unit: undefined };
  }

  private expand(def: DefDecl, e: CallExpr, args: CallArg[], frame: Frame): Value | undefined {
    if (frame.depth >= MAX_DEPTH) {
      this.bag.error(Codes.RecursionLimit, `defs nest deeper than ${MAX_DEPTH} levels at \`${def.name.name}\``, e.span, { hint: "a def that calls itself never ends" });
      throw new Abort();
    }
    const vars = new Map<string, Value>();
    const params = def.params.map((p) => p.name.name);
    let positional = 0;
    for (const a of args) {
      if (a.key === undefined) {
        const p = params[positional++];
        if (p === undefined) {
          this.bag.error(Codes.UnknownArgument, `\`${def.name.name}\` takes ${params.length} argument${params.length === 1 ? "" : "s"}, but more were given`, a.span);
          return undefined;
        }
        vars.set(p, a.value);
      } else {
        if (!params.includes(a.key)) {
          this.bag.error(Codes.UnknownArgument, `\`${def.name.name}\` has no parameter \`${a.key}\``, a.keySpan, { hint: didYouMean(a.key, params) ?? `its parameters: ${params.join(", ")}` });
          return undefined;
        }
        if (vars.has(a.key)) {
          this.bag.error(Codes.DuplicateName, `parameter \`${a.key}\` of \`${def.name.name}\` is given twice`, a.keySpan);
          return undefined;
        }
        vars.set(a.key, a.value);
      }
    }
    const inner: Frame = { vars, scope: "", depth: frame.depth + 1, inDef: true, def: def.name.name, callSite: frame.callSite ?? e.callee.span };
    for (const p of def.params) {
      if (vars.has(p.name.name)) continue;
      if (!p.default) {
        this.bag.error(Codes.MissingArgument, `\`${def.name.name}\` needs a value for \`${p.name.name}\``, e.span, { related: [{ message: `\`${def.name.name}\` is defined here`, span: def.name.span }] });
        return undefined;
      }
      const d = this.expr(p.default, inner);
      if (!d) return undefined;
      vars.set(p.name.name, d);
    }
    const n = (this.defCounters.get(def.name.name) ?? 0) + 1;
    this.defCounters.set(def.name.name, n);
    inner.scope = `${frame.scope}${def.name.name}_${n}/`;
    this.run(def.body, inner);
    if (!inner.returned) {
      this.bag.error(Codes.MissingReturn, `\`${def.name.name}\` returned nothing`, e.span, { related: [{ message: "add `return …` to this def", span: def.name.span }] });
      return undefined;
    }
    return inner.returned.kind === "poison" ? undefined : inner.returned;
  }

  private node(op: OpDef, e: CallExpr, args: CallArg[], frame: Frame): Value | undefined {
    const tensors: { value: Extract<Value, { kind: "tensor" }>; text: string; span: Span }[] = [];
    const attrs: Record<string, AttrValue> = {};
    let rest = args.filter((a) => a.key === undefined);
    const named = args.filter((a) => a.key !== undefined);
    const takeTensor = (a: (typeof args)[number]): boolean => {
      if (a.value.kind === "tensor") {
        tensors.push({ value: a.value, text: a.text, span: a.span });
        return true;
      }
      if (a.value.kind === "word") this.unknownName(a.value.name, a.span, frame);
      else this.bag.error(Codes.TypeMismatch, `\`${op.name}\` expects a tensor here, not ${describeValue(a.value)}`, a.span);
      return false;
    };
    if (op.tensorInputs === "variadic") {
      const firstNonTensor = rest.findIndex((a) => a.value.kind !== "tensor" && a.value.kind !== "list");
      const tensorArgs = firstNonTensor < 0 ? rest : rest.slice(0, firstNonTensor);
      for (const a of tensorArgs) {
        if (a.value.kind === "list") {
          for (const item of a.value.items) if (!takeTensor({ ...a, value: item })) return undefined;
        } else if (!takeTensor(a)) return undefined;
      }
      if (firstNonTensor >= 0 && tensors.length < 2) {
        const a = rest[firstNonTensor]!;
        takeTensor(a);
        return undefined;
      }
      rest = firstNonTensor < 0 ? [] : rest.slice(firstNonTensor);
      if (tensors.length < 2) {
        this.bag.error(Codes.MissingArgument, `\`${op.name}\` needs at least two tensors`, e.span);
        return undefined;
      }
    } else {
      for (let i = 0; i < op.tensorInputs; i++) {
        const a = rest[i];
        if (!a) {
          this.bag.error(Codes.MissingArgument, `\`${op.name}\` needs an input tensor`, e.span, { hint: `write \`${op.name}(x${op.params[0] && op.params[0].default === undefined ? ", …" : ""})\`` });
          return undefined;
        }
        if (!takeTensor(a)) return undefined;
      }
      rest = rest.slice(op.tensorInputs);
    }
    if (rest.length > op.params.length) {
      this.bag.error(Codes.UnknownArgument, `\`${op.name}\` takes at most ${op.params.length} argument${op.params.length === 1 ? "" : "s"} after its input${op.params.length ? ` (${op.params.map((p) => p.name).join(", ")})` : ""}`, rest[op.params.length]!.span);
      return undefined;
    }
    const given = new Map<string, { value: Value; span: Span }>();
    rest.forEach((a, i) => given.set(op.params[i]!.name, a));
    for (const a of named) {
      const p = op.params.find((q) => q.name === a.key);
      if (!p) {
        this.bag.error(Codes.UnknownArgument, `\`${op.name}\` has no argument \`${a.key}\``, a.keySpan, { hint: didYouMean(a.key!, op.params.map((q) => q.name)) ?? (op.params.length ? `its arguments: ${op.params.map((q) => q.name).join(", ")}` : `\`${op.name}\` takes no arguments`) });
        return undefined;
      }
      if (given.has(p.name)) {
        this.bag.error(Codes.DuplicateName, `argument \`${p.name}\` of \`${op.name}\` is given twice`, a.keySpan);
        return undefined;
      }
      given.set(p.name, a);
    }
    for (const p of op.params) {
      const g = given.get(p.name);
      if (!g) {
        if (p.default === undefined && p.name !== "stride") {
          this.bag.error(Codes.MissingArgument, `\`${op.name}\` needs \`${p.name}\``, e.span, { hint: `e.g. \`${op.name}(x, ${p.name}: …)\`` });
          return undefined;
        }
        if (p.default !== undefined) attrs[p.name] = p.default;
        continue;
      }
      const v = this.attr(op.name, p, g.value, g.span, frame);
      if (v === undefined) return undefined;
      attrs[p.name] = v;
    }
    return this.emit(op, tensors, attrs, e.span, frame);
  }

  private attr(opName: string, p: OpDef["params"][number], v: Value, span: Span, frame: Frame): AttrValue | undefined {
    const fail = (want: string): undefined => {
      if (v.kind === "word" && p.kind !== "padding" && p.kind !== "enum") this.unknownName(v.name, span, frame);
      else this.bag.error(Codes.BadValue, `\`${p.name}\` of \`${opName}\` must be ${want}, not ${describeValue(v)}`, span, { hint: v.kind === "word" && p.values ? didYouMean(v.name, p.values) : v.kind === "word" && p.kind === "padding" ? didYouMean(v.name, ["same", "valid"]) : undefined });
      return undefined;
    };
    switch (p.kind) {
      case "bool":
        if (v.kind === "bool") return v.value;
        this.bag.error(Codes.BadValue, `\`${p.name}\` of \`${opName}\` must be \`true\` or \`false\`, not ${describeValue(v)}`, span);
        return undefined;
      case "enum":
        return v.kind === "word" && p.values!.includes(v.name) ? v.name : fail(`one of ${p.values!.join(", ")}`);
      case "padding":
        if (v.kind === "word" && (v.name === "same" || v.name === "valid")) return v.name;
        if (v.kind === "number" && Number.isInteger(v.value) && v.value >= 0 && !v.unit) return v.value;
        if (v.kind === "string" && (v.value === "same" || v.value === "valid")) {
          this.bag.error(Codes.BadValue, `\`padding\` of \`${opName}\` is a word, not a string`, span, { hint: `write \`padding: ${v.value}\` without quotes` });
          return undefined;
        }
        return fail("`same`, `valid` or a whole number of pixels");
      case "int":
      case "number": {
        if (v.kind !== "number" || v.unit) return fail(p.kind === "int" ? "a whole number" : "a number");
        if (p.kind === "int" && !Number.isInteger(v.value)) return fail("a whole number");
        if ((p.min !== undefined && v.value < p.min) || (p.max !== undefined && v.value > p.max)) {
          this.bag.error(Codes.BadValue, `\`${p.name}\` of \`${opName}\` must be ${p.max === undefined ? `≥ ${p.min}` : `between ${p.min ?? "-∞"} and ${p.max}`}, got ${v.value}`, span);
          return undefined;
        }
        return v.value;
      }
    }
  }

  private emit(op: OpDef, inputs: { value: Extract<Value, { kind: "tensor" }>; text: string; span: Span }[], attrs: Record<string, AttrValue>, span: Span, frame: Frame): Value | undefined {
    if (this.store.nodes.length >= MAX_NODES) {
      this.bag.error(Codes.RecursionLimit, `the graph grows past ${MAX_NODES} layers`, span, { hint: "check repetition counts" });
      throw new Abort();
    }
    const n = (this.counters.get(op.name) ?? 0) + 1;
    this.counters.set(op.name, n);
    const nodeId = this.store.nodes.length;
    const tensorId = this.store.tensors.length;
    const name = `${this.block.name}/${frame.scope}${op.name}_${n}`;
    const node: IrNode = { id: nodeId, op: op.name, name, block: this.block.name, inputs: inputs.map((i) => i.value.id), output: tensorId, attrs, span };
    this.store.nodes.push(node);
    this.store.tensors.push({ id: tensorId, name, block: this.block.name, producer: nodeId, span });
    this.block.nodes.push(nodeId);
    for (const i of inputs) this.noteRead(i.value, i.span);
    this.store.shapes.push(this.inferShape(op, inputs, attrs, span));
    return { kind: "tensor", id: tensorId, label: name, gradient: false };
  }

  private noteRead(v: Extract<Value, { kind: "tensor" }>, span: Span): void {
    const t = this.store.tensors[v.id]!;
    if (t.block === this.block.name || t.producer < 0) return;
    const prior = this.block.reads.find((r: BlockRead) => r.tensor === v.id);
    if (prior) prior.gradient ||= v.gradient;
    else this.block.reads.push({ tensor: v.id, from: t.block, gradient: v.gradient, span, label: v.label });
  }

  private inferShape(op: OpDef, inputs: { value: Extract<Value, { kind: "tensor" }>; text: string; span: Span }[], attrs: Record<string, AttrValue>, span: Span): Shape | undefined {
    const shaped: ShapeInput[] = [];
    for (const i of inputs) {
      const shape = this.store.shapes[i.value.id];
      if (!shape) return undefined;
      const made = this.store.tensors[i.value.id]!.span;
      const pos = made.source.position(made.start);
      const origin = made.source === span.source ? `line ${pos.line}` : `${made.source.name}:${pos.line}`;
      shaped.push({ shape, label: i.text, span: made, origin });
    }
    const r = op.inferShape(shaped, attrs);
    if (!isProblem(r)) return r;
    const related = (r.inputs ?? []).map((k) => {
      const s = shaped[k]!;
      return { message: `\`${s.label}\` (${s.shape.join("×")}) is made here`, span: s.span };
    });
    this.bag.error(r.code, r.message, span, { ...(r.hint ? { hint: r.hint } : {}), ...(related.length ? { related } : {}) });
    return undefined;
  }
}

function strip(v: Value): unknown {
  return v.kind === "word" ? { kind: "word", name: v.name } : v;
}

function sourceText(span: Span): string {
  const t = span.source.text.slice(span.start, span.end).replace(/\s+/g, " ");
  return t.length > 40 ? t.slice(0, 37) + "…" : t;
}
