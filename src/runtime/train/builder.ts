import type { IrJson, IrJsonBlock, IrJsonNode } from "../../format/ir.js";
import { BatchNorm, DilatedDepthwiseConv2D, GroupedConv2D, Pad2D, registerCustomLayers, SeededDropout, unfusedConv2d } from "./layers.js";
import { layerName } from "./names.js";
import { tf, type LayersModel, type SymbolicTensor } from "./tf.js";

export { layerName };

/** A block as a tfjs model: which IR tensors it takes and gives, in the model's input and output order. */
export interface BlockModel {
  name: string;
  model: LayersModel;
  inputs: number[];
  outputs: number[];
}

/** Tensors a block reads from outside itself (the model input or other blocks), by id. */
export function blockInputs(ir: IrJson, block: IrJsonBlock): number[] {
  const inside = new Set(block.nodes.map((n) => ir.nodes[n]!.output));
  const ids = new Set<number>();
  for (const n of block.nodes) for (const t of ir.nodes[n]!.inputs) if (!inside.has(t)) ids.add(t);
  return [...ids].sort((a, b) => a - b);
}

/** Tensors of a block that something else needs: exits and tensors other blocks read. Always at least one. */
export function blockOutputs(ir: IrJson, block: IrJsonBlock): number[] {
  const ids = new Set<number>();
  for (const x of ir.exits) if (x.block === block.name) ids.add(x.tensor);
  for (const b of ir.blocks) for (const r of b.reads) if (r.from === block.name) ids.add(r.tensor);
  if (ids.size === 0 && block.nodes.length) ids.add(ir.nodes[block.nodes[block.nodes.length - 1]!]!.output);
  return [...ids].sort((a, b) => a - b);
}

/** A 32-bit seed per layer, derived from the run's seed and the node id (splitmix-style mixing). */
export function layerSeed(seed: number, nodeId: number): number {
  let z = (seed * 0x9e3779b1 + nodeId * 0x85ebca6b + 0x27d4eb2f) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}


type Padding = "same" | "valid" | number;

function padFirst(x: SymbolicTensor, padding: Padding, name: string, value: number): { x: SymbolicTensor; padding: "same" | "valid" } {
  if (typeof padding !== "number") return { x, padding };
  if (padding === 0) return { x, padding: "valid" };
  const pad = new Pad2D({ pad: [padding, padding, padding, padding], value, name: `${name}.pad` });
  return { x: pad.apply(x) as SymbolicTensor, padding: "valid" };
}

/** One IR node as tfjs layers applied to symbolic inputs. */
function applyNode(node: IrJsonNode, ins: SymbolicTensor[], seed: number): SymbolicTensor {
  const a = node.attrs;
  const name = layerName(node.name);
  const s = layerSeed(seed, node.id);
  const one = ins[0]!;
  switch (node.op) {
    case "conv2d": {
      const { x, padding } = padFirst(one, a.padding as Padding, name, 0);
      if ((a.groups as number) > 1) {
        return new GroupedConv2D({ filters: a.filters as number, kernel: a.kernel as number, stride: a.stride as number, padding, groups: a.groups as number, dilation: a.dilation as number, useBias: a.bias as boolean, seed: s, name }).apply(x) as SymbolicTensor;
      }
      return unfusedConv2d(
        tf.layers.conv2d({ filters: a.filters as number, kernelSize: a.kernel as number, strides: a.stride as number, padding, dilationRate: a.dilation as number, useBias: a.bias as boolean, kernelInitializer: tf.initializers.heNormal({ seed: s }), name }),
      ).apply(x) as SymbolicTensor;
    }
    case "depthwise_conv2d": {
      const { x, padding } = padFirst(one, a.padding as Padding, name, 0);
      if ((a.dilation as number) > 1) {
        return new DilatedDepthwiseConv2D({ kernel: a.kernel as number, stride: a.stride as number, padding, multiplier: a.multiplier as number, dilation: a.dilation as number, useBias: a.bias as boolean, seed: s, name }).apply(x) as SymbolicTensor;
      }
      return tf.layers
        .depthwiseConv2d({ kernelSize: a.kernel as number, strides: a.stride as number, padding, depthMultiplier: a.multiplier as number, dilationRate: a.dilation as number, useBias: a.bias as boolean, depthwiseInitializer: tf.initializers.heNormal({ seed: s }), name })
        .apply(x) as SymbolicTensor;
    }
    case "batchnorm":
      return new BatchNorm({ momentum: a.momentum as number, epsilon: a.epsilon as number, name }).apply(one) as SymbolicTensor;
    case "relu":
      return tf.layers.reLU({ name }).apply(one) as SymbolicTensor;
    case "relu6":
      return tf.layers.reLU({ maxValue: 6, name }).apply(one) as SymbolicTensor;
    case "add":
      return tf.layers.add({ name }).apply(ins) as SymbolicTensor;
    case "concat":
      return tf.layers.concatenate({ axis: -1, name }).apply(ins) as SymbolicTensor;
    case "max_pool":
    case "avg_pool": {
      const { x, padding } = padFirst(one, a.padding as Padding, name, node.op === "max_pool" ? -Infinity : 0);
      const k = a.kernel as number;
      const cfg = { poolSize: k, strides: (a.stride as number | undefined) ?? k, padding, name };
      return (node.op === "max_pool" ? tf.layers.maxPooling2d(cfg) : tf.layers.averagePooling2d(cfg)).apply(x) as SymbolicTensor;
    }
    case "global_avg_pool":
      return tf.layers.globalAveragePooling2d({ name }).apply(one) as SymbolicTensor;
    case "dense":
      return tf.layers.dense({ units: a.units as number, useBias: a.bias as boolean, kernelInitializer: tf.initializers.glorotUniform({ seed: s }), name }).apply(one) as SymbolicTensor;
    case "dropout":
      return new SeededDropout({ rate: a.rate as number, seed: s, name }).apply(one) as SymbolicTensor;
    case "flatten":
      return tf.layers.flatten({ name }).apply(one) as SymbolicTensor;
    case "pad": {
      const sides: [number, number, number, number] = [a.top as number, a.bottom as number, a.left as number, a.right as number];
      return new Pad2D({ pad: sides, value: 0, channels: a.channels as number, name }).apply(one) as SymbolicTensor;
    }
    case "softmax":
      return tf.layers.softmax({ name }).apply(one) as SymbolicTensor;
    default:
      throw new Error(`no tfjs lowering for op \`${node.op}\` (node ${node.name})`);
  }
}

/** Builds one block's model with seeded initial weights. Exits output logits; softmax is applied by the caller. */
export function buildBlockModel(ir: IrJson, block: IrJsonBlock, seed: number): BlockModel {
  registerCustomLayers();
  const inputs = blockInputs(ir, block);
  const outputs = blockOutputs(ir, block);
  const values = new Map<number, SymbolicTensor>();
  const inputLayers = inputs.map((id) => {
    const t = ir.tensors[id]!;
    const sym = tf.input({ shape: t.shape, name: `in.${layerName(t.name)}`, dtype: "float32" });
    values.set(id, sym);
    return sym;
  });
  for (const n of block.nodes) {
    const node = ir.nodes[n]!;
    values.set(node.output, applyNode(node, node.inputs.map((i) => values.get(i)!), seed));
  }
  const model = tf.model({ inputs: inputLayers, outputs: outputs.map((id) => values.get(id)!), name: layerName(block.name) });
  return { name: block.name, model, inputs, outputs };
}
