import type { IrJson } from "../../format/ir.js";
import type { BlockModel } from "./builder.js";
import type { Dataset } from "./data/dataset.js";
import { stopGradient } from "./layers.js";
import { tf, type Tensor } from "./tf.js";

/** Blocks in an order where each comes after the blocks it reads. */
export function topoBlocks(ir: IrJson): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const r of ir.blocks.find((b) => b.name === name)!.reads) visit(r.from);
    out.push(name);
  };
  for (const b of ir.blocks) visit(b.name);
  return out;
}

/** Blocks needed to compute the given exits, in dependency order. */
export function blocksFor(ir: IrJson, exits: string[]): string[] {
  const need = new Set<string>();
  const stack = exits.map((e) => ir.exits.find((x) => x.name === e)!.block);
  while (stack.length) {
    const b = stack.pop()!;
    if (need.has(b)) continue;
    need.add(b);
    for (const r of ir.blocks.find((x) => x.name === b)!.reads) stack.push(r.from);
  }
  return topoBlocks(ir).filter((b) => need.has(b));
}

/** Pixels → the float input every block sees: uint8 scaled to [0, 1]. */
export function inputTensor(images: Uint8Array, count: number, shape: number[]): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.tensor4d(images, [count, shape[0]!, shape[1]!, shape[2]!], "int32").toFloat(), 255)) as tf.Tensor4D;
}

/**
 * Runs `blocks` in order. `values` holds tensors already known (the input, frozen blocks' outputs)
 * and receives each block's outputs. Reads across blocks stop the gradient unless the spec's
 * `grad(…)` let it through.
 */
export function runBlocks(ir: IrJson, models: Map<string, BlockModel>, blocks: string[], values: Map<number, Tensor>, training: (block: string) => boolean): void {
  for (const name of blocks) {
    const bm = models.get(name)!;
    const block = ir.blocks.find((b) => b.name === name)!;
    const ins = bm.inputs.map((id) => {
      const v = values.get(id);
      if (!v) throw new Error(`block \`${name}\` needs tensor ${ir.tensors[id]!.name}, which was not computed`);
      const read = block.reads.find((r) => r.tensor === id);
      return read && !read.gradient ? stopGradient(v) : v;
    });
    const out = bm.model.apply(ins.length === 1 ? ins[0]! : ins, { training: training(name) }) as Tensor | Tensor[];
    const outs = Array.isArray(out) ? out : [out];
    bm.outputs.forEach((id, i) => values.set(id, outs[i]!));
  }
}

/** Logits of the given exits for a batch, in inference mode. */
export function predictExits(ir: IrJson, models: Map<string, BlockModel>, x: Tensor, exits: string[]): Tensor[] {
  return tf.tidy(() => {
    const values = new Map<number, Tensor>([[ir.input.tensor, x]]);
    runBlocks(ir, models, blocksFor(ir, exits), values, () => false);
    return exits.map((e) => values.get(ir.exits.find((x2) => x2.name === e)!.tensor)!);
  });
}

const PREDICT_BATCH = 500;

/** Predicted class index (within each exit's classes) for every sample, one array per exit. */
export function predictClasses(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, exits: string[]): Int32Array[] {
  const out = exits.map(() => new Int32Array(ds.count));
  for (let s = 0; s < ds.count; s += PREDICT_BATCH) {
    const n = Math.min(PREDICT_BATCH, ds.count - s);
    const size = ds.height * ds.width * ds.channels;
    const x = inputTensor(ds.images.subarray(s * size, (s + n) * size), n, [ds.height, ds.width, ds.channels]);
    const logits = predictExits(ir, models, x, exits);
    logits.forEach((l, k) => {
      const am = tf.tidy(() => tf.argMax(l, 1));
      out[k]!.set(am.dataSync() as Int32Array, s);
      am.dispose();
      l.dispose();
    });
    x.dispose();
  }
  return out;
}
