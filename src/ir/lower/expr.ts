import { Codes, didYouMean, type Span } from "../../diagnostics/index.js";
import type { CallExpr, Expr } from "../../parser/index.js";
import { lookupOp, opNames } from "../ops/index.js";
import { bindOpArgs, callArg, type CallArg } from "./args.js";
import { BUILTINS, callBuiltin, isBuiltin } from "./builtins.js";
import { expandDef } from "./defs.js";
import type { BodyContext, Frame } from "./frame.js";
import { describeValue, UNIT_SCALE, type Value } from "./values.js";

type Binary = Extract<Expr, { kind: "binary" }>;
type Num = Extract<Value, { kind: "number" }>;

/** Evaluates an expression; undefined when it fails (already reported). */
export function evalExpr(cx: BodyContext, e: Expr, frame: Frame): Value | undefined {
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
        const v = evalExpr(cx, el, frame);
        if (!v) return undefined;
        items.push(v);
      }
      return { kind: "list", items };
    }
    case "name": {
      if (!e.name) return undefined;
      const v = frame.vars.get(e.name) ?? cx.globals.get(e.name);
      if (v?.kind === "poison") return undefined;
      if (v) return v;
      return { kind: "word", name: e.name, span: e.span };
    }
    case "member":
      return member(cx, e, frame);
    case "call":
      return evalCall(cx, e, frame, undefined);
    case "unary":
      return unary(cx, e, frame);
    case "binary":
      return binary(cx, e, frame);
  }
}

export function unknownName(cx: BodyContext, name: string, span: Span, frame: Frame): void {
  const candidates = [...frame.vars.keys(), ...cx.globals.keys()];
  cx.bag.error(Codes.UnknownName, `\`${name}\` is not defined`, span, { hint: didYouMean(name, candidates) });
}

/** Calls an op, a def or a built-in. `first` replaces the first argument (for repetition). */
export function evalCall(cx: BodyContext, e: CallExpr, frame: Frame, first: Value | undefined): Value | undefined {
  if (e.callee.kind !== "name") {
    cx.bag.error(Codes.UnknownFunction, "only named layers and defs can be called", e.callee.span);
    return undefined;
  }
  const name = e.callee.name;
  if (!name) return undefined;
  const def = cx.defs.get(name);
  const op = def ? undefined : lookupOp(name);
  if (!def && !op && !isBuiltin(name)) {
    cx.bag.error(Codes.UnknownFunction, `unknown layer or def \`${name}\``, e.callee.span, {
      hint: didYouMean(name, [...opNames(), ...cx.defs.keys(), ...BUILTINS]),
    });
    return undefined;
  }
  const args: CallArg[] = [];
  for (let i = 0; i < e.args.length; i++) {
    const a = e.args[i]!;
    const v = i === 0 && first ? first : evalExpr(cx, a.value, frame);
    if (!v) return undefined;
    args.push(callArg(a, v));
  }
  if (def) return expandDef(cx, def, e, args, frame);
  if (op) {
    const bound = bindOpArgs(cx.bag, op, e, args, (n, span) => unknownName(cx, n, span, frame));
    return bound && cx.graph.emit(op, bound.inputs, bound.attrs, e.span, frame.scope, frame.callSite && frame.def ? { call: frame.callSite, def: frame.def } : undefined);
  }
  return callBuiltin(cx.bag, cx.store, name, e, args);
}

function unary(cx: BodyContext, e: Extract<Expr, { kind: "unary" }>, frame: Frame): Value | undefined {
  const v = evalExpr(cx, e.operand, frame);
  if (!v) return undefined;
  if (e.op === "not") {
    if (v.kind === "bool") return { kind: "bool", value: !v.value };
  } else if (v.kind === "number") return { kind: "number", value: -v.value, unit: v.unit };
  cx.bag.error(Codes.TypeMismatch, `\`${e.op}\` cannot apply to ${describeValue(v)}`, e.span);
  return undefined;
}

function binary(cx: BodyContext, e: Binary, frame: Frame): Value | undefined {
  const l = evalExpr(cx, e.left, frame);
  const r = evalExpr(cx, e.right, frame);
  if (!l || !r) return undefined;
  const bad = (): undefined => {
    cx.bag.error(Codes.TypeMismatch, `\`${e.op}\` cannot combine ${describeValue(l)} and ${describeValue(r)}`, e.opSpan, {
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
  const v = arithmetic(cx, e, l, r);
  return v === null ? bad() : v;
}

/**
 * Arithmetic and comparison of two numbers; null for an operator that does not apply to numbers.
 * Quantities in different units of one dimension combine in the left operand's unit.
 */
function arithmetic(cx: BodyContext, e: Binary, l: Num, r: Num): Value | undefined | null {
  const a = l.value;
  const b = l.unit && r.unit && l.unit !== r.unit && UNIT_SCALE[l.unit] && UNIT_SCALE[r.unit] ? (r.value * UNIT_SCALE[r.unit]!.scale) / UNIT_SCALE[l.unit]!.scale : r.value;
  switch (e.op) {
    case "+":
      return { kind: "number", value: a + b, unit: l.unit ?? r.unit };
    case "-":
      return { kind: "number", value: a - b, unit: l.unit ?? r.unit };
    case "*":
      return { kind: "number", value: a * b, unit: l.unit ?? r.unit };
    case "/":
    case "%":
      if (b === 0) {
        cx.bag.error(Codes.BadValue, `${e.op === "/" ? "division" : "remainder"} by zero`, e.span);
        return undefined;
      }
      return { kind: "number", value: e.op === "/" ? a / b : a % b, unit: l.unit };
    case "<":
      return { kind: "bool", value: a < b };
    case "<=":
      return { kind: "bool", value: a <= b };
    case ">":
      return { kind: "bool", value: a > b };
    case ">=":
      return { kind: "bool", value: a >= b };
    default:
      return null;
  }
}

/** `block.tensor`: a tensor another block exports. */
function member(cx: BodyContext, e: Extract<Expr, { kind: "member" }>, frame: Frame): Value | undefined {
  const obj = evalExpr(cx, e.object, frame);
  if (!obj) return undefined;
  if (obj.kind === "word") {
    unknownName(cx, obj.name, obj.span, frame);
    return undefined;
  }
  if (obj.kind !== "block") {
    cx.bag.error(Codes.TypeMismatch, `\`.${e.member.name}\` needs a block on its left, not ${describeValue(obj)}`, e.span);
    return undefined;
  }
  const self = cx.graph.block.name;
  const target = cx.blocks.get(obj.name);
  if (!target) {
    // Blocks are lowered after the blocks they read, so an unlowered one is this block or part of a cycle (already reported).
    if (obj.name === self) {
      cx.bag.error(Codes.BlockCycle, `block \`${self}\` cannot read its own tensors as \`${obj.name}.${e.member.name}\``, e.span, {
        hint: `inside the block, write \`${e.member.name}\``,
      });
    } else cx.incomplete.add(self);
    return undefined;
  }
  const id = target.exports[e.member.name];
  if (id === undefined && (cx.incomplete.has(obj.name) || cx.poisoned.get(obj.name)?.has(e.member.name))) return undefined;
  if (id === undefined) {
    cx.bag.error(Codes.UnknownMember, `block \`${obj.name}\` has no tensor named \`${e.member.name}\``, e.member.span, {
      hint: didYouMean(e.member.name, Object.keys(target.exports)) ?? `it names: ${Object.keys(target.exports).join(", ") || "nothing"}`,
    });
    return undefined;
  }
  return { kind: "tensor", id, label: `${obj.name}.${e.member.name}`, gradient: false };
}

function strip(v: Value): unknown {
  return v.kind === "word" ? { kind: "word", name: v.name } : v;
}
