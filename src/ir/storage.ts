/**
 * Weight bytes as an exported file stores them. A batch norm that directly follows a convolution
 * of the same file is folded into it: the norm stores nothing and the convolution gains a bias.
 * At int8 a convolution or dense layer stores its weights as int8 plus one float32 scale per
 * output channel, and its bias as int32 plus one float32 scale per channel; a batch norm left
 * unfolded stays float32. At fp16 and fp32 every stored number takes the precision's bytes.
 */
import type { Precision } from "../format/ir.js";
import { PRECISION_BYTES } from "../format/quantize.js";
import type { OpCost } from "./ops/index.js";

/** What the fold rule reads of a graph; the IR and ir.json both have it. */
export interface FoldView {
  nodes: readonly { op: string; block: string; inputs: readonly number[]; output: number }[];
  tensors: readonly { producer: number }[];
  exits: readonly { tensor: number }[];
}

const FOLDS_INTO = new Set(["conv2d", "depthwise_conv2d"]);

/**
 * Batch norms that fold into the convolution before them when both are in one file: the
 * convolution's output is read by nothing else and is no exit. Norm node id → convolution node id.
 */
export function foldCandidates(ir: FoldView): Map<number, number> {
  const readers = new Map<number, number>();
  for (const n of ir.nodes) for (const t of n.inputs) readers.set(t, (readers.get(t) ?? 0) + 1);
  const exitTensors = new Set(ir.exits.map((x) => x.tensor));
  const folds = new Map<number, number>();
  ir.nodes.forEach((bn, id) => {
    if (bn.op !== "batchnorm") return;
    const t = bn.inputs[0]!;
    const p = ir.tensors[t]!.producer;
    if (p >= 0 && FOLDS_INTO.has(ir.nodes[p]!.op) && readers.get(t) === 1 && !exitTensors.has(t)) folds.set(id, p);
  });
  return folds;
}

/** The batch norms of `nodes` (one file) folded into a convolution of the same file: norm node id → convolution node id. */
export function foldableNorms(ir: FoldView, nodes: readonly number[], candidates = foldCandidates(ir)): Map<number, number> {
  const inside = new Set(nodes);
  const folds = new Map<number, number>();
  for (const bn of nodes) {
    const conv = candidates.get(bn);
    if (conv !== undefined && inside.has(conv)) folds.set(bn, conv);
  }
  return folds;
}

/** Bytes of a float32 scale: int8 weights and int32 biases carry one per output channel. */
const SCALE_BYTES = 4;
const INT32_BYTES = 4;
const FLOAT32_BYTES = 4;

/** One node's stored bytes; `fold` says whether a norm was folded into it or it was folded away. */
export function storedBytes(cost: OpCost, precision: Precision, fold: "absorbs" | "absorbed" | undefined): number {
  const s = cost.storage;
  if (!s || fold === "absorbed") return 0;
  const int8 = precision === "int8";
  if (s.kind === "norm") return 4 * s.channels * (int8 ? FLOAT32_BYTES : PRECISION_BYTES[precision]);
  const biased = s.bias || fold === "absorbs";
  if (!int8) return (s.weights + (biased ? s.channels : 0)) * PRECISION_BYTES[precision];
  return s.weights + s.channels * SCALE_BYTES + (biased ? s.channels * (INT32_BYTES + SCALE_BYTES) : 0);
}

/**
 * Stored bytes of each of `nodes`, all on one device at `precision`. Each block's nodes among them
 * form one file, as export writes them, so norms fold only within a block.
 */
export function nodeWeightBytes(ir: FoldView, costs: readonly OpCost[], nodes: readonly number[], precision: Precision, candidates = foldCandidates(ir)): Map<number, number> {
  const byBlock = new Map<string, number[]>();
  for (const n of nodes) {
    const block = ir.nodes[n]!.block;
    const file = byBlock.get(block);
    if (file) file.push(n);
    else byBlock.set(block, [n]);
  }
  const out = new Map<number, number>();
  for (const file of byBlock.values()) {
    const folds = foldableNorms(ir, file, candidates);
    const absorbing = new Set(folds.values());
    for (const n of file) out.set(n, storedBytes(costs[n]!, precision, folds.has(n) ? "absorbed" : absorbing.has(n) ? "absorbs" : undefined));
  }
  return out;
}

/** The stored weight bytes of `nodes` on one device at `precision`. */
export function weightBytes(ir: FoldView, costs: readonly OpCost[], nodes: readonly number[], precision: Precision, candidates = foldCandidates(ir)): number {
  let total = 0;
  for (const b of nodeWeightBytes(ir, costs, nodes, precision, candidates).values()) total += b;
  return total;
}
