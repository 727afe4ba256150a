/** An ONNX graph under construction: nodes in order, initializers, and unique names. */
import type { IrJsonNode } from "../../format/ir.js";
import { attributes, floatTensor, int64Tensor, intTensor, type AttrInput, type NodeProto, type TensorProto } from "./proto.js";

/** A value in the graph. Feature maps are NCHW inside a file; `shape` is the IR's NHWC shape without the batch. */
export interface Value {
  name: string;
  layout: "NCHW" | "NC";
  shape: number[];
}

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** Trained or initial weights of one IR node, by tfjs weight kind (`kernel`, `bias`, `gamma`, …). */
export type WeightLookup = (node: IrJsonNode, kind: string) => WeightTensor | undefined;

export class OnnxGraph {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly names = new Set<string>();

  /** `base`, or `base_2`, `base_3`, … when taken. */
  unique(base: string): string {
    let name = base;
    for (let i = 2; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  reserve(name: string): void {
    if (this.names.has(name)) throw new Error(`ONNX name \`${name}\` is used twice`);
    this.names.add(name);
  }

  /** Appends a node with one output and returns the output's name. */
  op(type: string, inputs: string[], attrs: Record<string, AttrInput>, output: string): string {
    const name = this.unique(`${output}:${type}`);
    if (!this.names.has(output)) this.names.add(output);
    this.nodes.push({ name, opType: type, input: inputs, output: [output], attribute: attributes(attrs) });
    return output;
  }

  floats(base: string, dims: number[], data: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  /** A uint8 quantization's scale and zero point, as scalars: [scale, zero point]. */
  quantParams(base: string, p: { scale: number; zeroPoint: number }): [string, string] {
    const scale = this.floats(`${base}.scale`, [], Float32Array.of(p.scale));
    const zp = this.unique(`${base}.zero_point`);
    this.initializers.push(intTensor(zp, [], Uint8Array.of(p.zeroPoint)));
    return [scale, zp];
  }

  int64s(base: string, dims: number[], data: number[]): string {
    const name = this.unique(base);
    this.initializers.push(int64Tensor(name, dims, data));
    return name;
  }
}

/** What an op's lowering sees: the graph, its IR node, its input values and its weights. */
export interface LowerContext {
  g: OnnxGraph;
  node: IrJsonNode;
  inputs: Value[];
  /** The IR shape of the node's output (NHWC, no batch). */
  outShape: number[];
  /** The node's weight of this kind; throws if it is missing (weights are checked before emitting). */
  weight(kind: string): WeightTensor;
  hasWeight(kind: string): boolean;
  /** Output name for the node's value. */
  out: string;
  /** A batch norm that directly follows this convolution and is folded into it. */
  fold: FoldedNorm | undefined;
}

export interface FoldedNorm {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

export type OpLowering = (cx: LowerContext) => Value;

/** NHWC → NCHW for a feature map arriving from outside; vectors pass as they are. */
export function toInternal(g: OnnxGraph, v: Value, name: string): Value {
  if (v.shape.length !== 3) return { ...v, layout: "NC" };
  return { name: g.op("Transpose", [v.name], { perm: [0, 3, 1, 2] }, g.unique(name)), layout: "NCHW", shape: v.shape };
}

/** NCHW → NHWC for a feature map leaving the file, or a renaming Identity for a vector. */
export function toExternal(g: OnnxGraph, v: Value, name: string): void {
  if (v.layout === "NCHW") g.op("Transpose", [v.name], { perm: [0, 2, 3, 1] }, name);
  else g.op("Identity", [v.name], {}, name);
}

/** Padding of TensorFlow's `same` (extra row/column at the end) or an explicit size, as ONNX pads [top, left, bottom, right]. */
export function spatialPads(padding: unknown, inShape: number[], kernel: number, stride: number, dilation = 1): number[] {
  if (typeof padding === "number") return [padding, padding, padding, padding];
  if (padding !== "same") return [0, 0, 0, 0];
  const eff = (kernel - 1) * dilation + 1;
  const axis = (size: number) => {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + eff - size, 0);
    const before = Math.floor(total / 2);
    return [before, total - before];
  };
  const [t, b] = axis(inShape[0]!);
  const [l, r] = axis(inShape[1]!);
  return [t!, l!, b!, r!];
}
