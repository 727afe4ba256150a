/**
 * The ONNX writer: one partition of the IR as an ONNX model (opset 17, IR version 8) with a
 * dynamic batch. Inputs and outputs are NHWC like the spec; inside, feature maps are NCHW, the
 * layout ONNX convolutions take. Batch norms that directly follow a convolution are folded into it.
 * Pure: the same IR, plan, weights and metadata give the same bytes.
 */
import type { IrJson, IrJsonNode } from "../../format/ir.js";
import type { PartitionIo, PartitionPlan } from "../../format/manifest.js";
import { foldableNorms } from "../../ir/storage.js";
import { OnnxGraph, toExternal, toInternal, type FoldedNorm, type LowerContext, type Value, type WeightLookup } from "./graph.js";
import { LOWERINGS } from "./ops/index.js";
import { DataType, encodeModel, IR_VERSION, OPSET, valueInfo, type DataTypeCode } from "./proto.js";

export interface OnnxModelInfo {
  producerVersion: string;
  /** Key/value metadata, written in this order. */
  metadata: [string, string][];
  docString: string;
}

const ELEM: Record<string, DataTypeCode> = { uint8: DataType.UINT8, int8: DataType.INT8, float16: DataType.FLOAT16, float32: DataType.FLOAT };

/** Node ids of the plan in an order where producers come first (stable by id). */
function topological(ir: IrJson, nodes: number[]): number[] {
  const inside = new Set(nodes);
  const done = new Set<number>();
  const out: number[] = [];
  const visit = (n: number) => {
    if (done.has(n)) return;
    done.add(n);
    for (const t of ir.nodes[n]!.inputs) {
      const p = ir.tensors[t]!.producer;
      if (p >= 0 && inside.has(p)) visit(p);
    }
    out.push(n);
  };
  for (const n of [...nodes].sort((a, b) => a - b)) visit(n);
  return out;
}

function norm(weights: WeightLookup, bn: IrJsonNode): FoldedNorm {
  const get = (k: string) => {
    const w = weights(bn, k);
    if (!w) throw new Error(`missing weight ${k} of ${bn.name}`);
    return w.data;
  };
  return { gamma: get("gamma"), beta: get("beta"), mean: get("moving_mean"), variance: get("moving_variance"), epsilon: bn.attrs.epsilon as number };
}

function graphInput(g: OnnxGraph, ir: IrJson, io: PartitionIo): Value {
  g.reserve(io.name);
  if (io.tensor !== ir.input.tensor) {
    // A tensor quantized by the edge file it comes from is dequantized first, one halved is cast back to float.
    const real = io.quant
      ? g.op("DequantizeLinear", [io.name, ...g.quantParams(io.name, io.quant)], {}, g.unique(`${io.name}.dq`))
      : io.dtype === "float16"
        ? g.op("Cast", [io.name], { to: DataType.FLOAT }, g.unique(`${io.name}.float`))
        : io.name;
    return toInternal(g, { name: real, layout: "NC", shape: io.shape }, `${io.name}.nchw`);
  }
  // Pixels are scaled to [0, 1] inside the model, as in training.
  const asFloat = io.dtype === "float32" ? io.name : g.op("Cast", [io.name], { to: DataType.FLOAT }, g.unique(`${io.name}.float`));
  const scale = g.floats(`${io.name}.scale`, [], new Float32Array([255]));
  const scaled = g.op("Div", [asFloat, scale], {}, g.unique(`${io.name}.scaled`));
  return toInternal(g, { name: scaled, layout: "NC", shape: io.shape }, `${io.name}.nchw`);
}

export function emitOnnx(ir: IrJson, plan: PartitionPlan, weights: WeightLookup, info: OnnxModelInfo): Uint8Array {
  const g = new OnnxGraph();
  const values = new Map<number, Value>();
  for (const io of plan.inputs) values.set(io.tensor, graphInput(g, ir, io));
  for (const io of plan.outputs) g.reserve(io.name);
  const folds = foldableNorms(ir, plan.nodes);
  const foldInto = new Map([...folds].map(([bn, conv]) => [conv, bn]));
  for (const id of topological(ir, plan.nodes)) {
    const node = ir.nodes[id]!;
    const lower = LOWERINGS[node.op];
    if (!lower) throw new Error(`no ONNX lowering for op \`${node.op}\` (node ${node.name})`);
    const bn = foldInto.get(id);
    const cx: LowerContext = {
      g,
      node,
      inputs: node.inputs.map((t) => {
        const v = values.get(t);
        if (!v) throw new Error(`${plan.path}: node ${node.name} reads ${ir.tensors[t]!.name}, which this file neither computes nor takes as input`);
        return v;
      }),
      outShape: ir.tensors[node.output]!.shape,
      weight: (kind) => {
        const w = weights(node, kind);
        if (!w) throw new Error(`missing weight ${kind} of ${node.name}`);
        return w;
      },
      hasWeight: (kind) => weights(node, kind) !== undefined,
      out: g.unique(node.name),
      fold: bn !== undefined ? norm(weights, ir.nodes[bn]!) : folds.has(id) ? norm(weights, node) : undefined,
    };
    values.set(node.output, lower(cx));
  }
  for (const io of plan.outputs) {
    const v = values.get(io.tensor)!;
    if (io.exit) g.op("Softmax", [v.name], { axis: -1 }, io.name);
    else if (!io.quant && io.dtype !== "float16") toExternal(g, v, io.name);
    else {
      // A tensor for the cloud leaves at the edge's precision: uint8, or float16.
      const real = g.unique(`${io.name}.real`);
      toExternal(g, v, real);
      if (io.quant) g.op("QuantizeLinear", [real, ...g.quantParams(io.name, io.quant)], {}, io.name);
      else g.op("Cast", [real], { to: DataType.FLOAT16 }, io.name);
    }
  }
  const dims = (io: PartitionIo) => ["N", ...io.shape];
  // A tensor between files is float32 unless it crosses the link quantized (with its parameters) or halved.
  const elem = (io: PartitionIo) => (io.tensor === ir.input.tensor ? (ELEM[io.dtype] ?? DataType.FLOAT) : io.quant ? DataType.UINT8 : io.dtype === "float16" ? DataType.FLOAT16 : DataType.FLOAT);
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "meanet",
    producerVersion: info.producerVersion,
    docString: info.docString,
    graph: {
      name: `${ir.model}_${plan.name}`,
      node: g.nodes,
      initializer: g.initializers,
      input: plan.inputs.map((io) => valueInfo(io.name, elem(io), dims(io))),
      output: plan.outputs.map((io) => valueInfo(io.name, elem(io), dims(io))),
    },
    metadataProps: info.metadata.map(([key, value]) => ({ key, value })),
  });
}
