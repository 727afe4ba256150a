import { Codes, type Code } from "../../diagnostics/index.js";
import type { AttrValue, Shape } from "../graph.js";
import type { DiagnosticBag, RelatedInfo, Span } from "../../diagnostics/index.js";

export interface ParamSpec {
  name: string;
  kind: "int" | "number" | "bool" | "enum" | "padding";
  /** For enums: the allowed words. */
  values?: readonly string[];
  default?: AttrValue;
  /**
   * May be left out although it has no default: the attribute is then absent, and the op's shape
   * rule and runtime choose the value (a pool's stride is its kernel).
   */
  optional?: boolean;
  min?: number;
  max?: number;
}

/** Whether a call must give the argument. */
export function isRequired(p: ParamSpec): boolean {
  return p.default === undefined && !p.optional;
}

export interface ShapeInput {
  shape: Shape;
  /** How the user wrote or named the tensor, for messages. */
  label: string;
  span: Span;
  /** Where the tensor was made, as users read it: "line 5", or "file:line" in another file. */
  origin: string;
  /** For a tensor made inside a def of another file (the standard library): the def and its layer; `span` is then the user's call. */
  inner?: { def: string; span: Span };
}

export interface ShapeProblem {
  code: Code;
  message: string;
  hint?: string;
  /** Which inputs the message is about, so their definitions can be shown. */
  inputs?: number[];
}

export interface OpCost {
  /** Trainable parameters. */
  params: number;
  /** Multiply-accumulates (conv and dense only, by the counting convention). */
  macs: number;
  /** Non-trainable state such as BatchNorm running statistics. */
  buffers: number;
  /** How an exported file stores the op's numbers; absent for ops without any. */
  storage?: Storage;
}

/**
 * A convolution or dense layer: `weights` numbers and, with `bias`, one bias per output channel
 * (`channels` of them); a batch norm: scale, shift, mean and variance per channel.
 */
export type Storage = { kind: "kernel"; weights: number; channels: number; bias: boolean } | { kind: "norm"; channels: number };

/** One layer type: its arguments, its shape rule and its cost. */
export interface OpDef {
  name: string;
  aliases?: readonly string[];
  /** Exact count of tensor inputs, or "variadic" for two or more. */
  tensorInputs: number | "variadic";
  params: readonly ParamSpec[];
  inferShape(inputs: ShapeInput[], attrs: Record<string, AttrValue>): Shape | ShapeProblem;
  cost(inputs: Shape[], output: Shape, attrs: Record<string, AttrValue>): OpCost;
  doc: string;
}

export const NO_COST: OpCost = { params: 0, macs: 0, buffers: 0 };

export function isProblem(r: Shape | ShapeProblem): r is ShapeProblem {
  return !Array.isArray(r);
}

/**
 * A tensor as a shape rule sees it: `made` is where the tensor was made, `at` the call that uses it,
 * `call` the call in the block's body whose def made it. A tensor made in another file than `at`
 * (inside a library def) is shown at that call, with the layer in the library as a second note.
 */
export function shapeInput(shape: Shape, label: string, made: Span, at: Span, via?: { call: Span; def: string }): ShapeInput {
  const shown = made.source !== at.source && via?.call.source === at.source ? via.call : made;
  const pos = shown.source.position(shown.start);
  const origin = shown.source === at.source ? `line ${pos.line}` : `${shown.source.name}:${pos.line}`;
  return { shape, label, span: shown, origin, ...(shown !== made ? { inner: { def: via!.def, span: made } } : {}) };
}

/** Applies an op's shape rule; a problem is reported at `span`, with where each input it names was made. */
export function applyShapeRule(op: OpDef, inputs: ShapeInput[], attrs: Record<string, AttrValue>, span: Span, bag: DiagnosticBag): Shape | undefined {
  const r = op.inferShape(inputs, attrs);
  if (!isProblem(r)) return r;
  const related: RelatedInfo[] = (r.inputs ?? []).flatMap((k) => {
    const s = inputs[k]!;
    const made = { message: `\`${s.label}\` (${s.shape.join("×")}) is made ${s.inner ? "by this call" : "here"}`, span: s.span };
    return s.inner ? [made, { message: `by this layer of \`${s.inner.def}\``, span: s.inner.span }] : [made];
  });
  bag.error(r.code, r.message, span, { ...(r.hint ? { hint: r.hint } : {}), ...(related.length ? { related } : {}) });
  return undefined;
}

export function describe(input: ShapeInput): string {
  return `\`${input.label}\` (${input.shape.join("×")}, ${input.origin})`;
}

/** Output size of a sliding window along one axis. */
export function windowOutput(size: number, kernel: number, stride: number, padding: AttrValue, dilation = 1): number {
  const effective = (kernel - 1) * dilation + 1;
  if (padding === "same") return Math.ceil(size / stride);
  const pad = typeof padding === "number" ? padding : 0;
  return Math.floor((size + 2 * pad - effective) / stride) + 1;
}

export function requireRank(input: ShapeInput, rank: number, op: string, hint?: string): ShapeProblem | undefined {
  if (input.shape.length === rank) return undefined;
  const what = rank === 3 ? "a feature map H×W×C" : rank === 1 ? "a vector" : `rank ${rank}`;
  return {
    code: Codes.RankMismatch,
    message: `${op} expects ${what}, but ${describe(input)} has rank ${input.shape.length}`,
    inputs: [0],
    ...(hint ? { hint } : {}),
  };
}
