import type { IrJson } from "../../format/ir.js";
import { buildBlockModel } from "../train/builder.js";
import type { WeightStore } from "./weights.js";

/**
 * The seeded initial weights a training run with this seed would start from: the same tfjs
 * initialisers, so `--random-weights --seed S` exports a model tfjs can rebuild exactly.
 */
export function randomWeights(ir: IrJson, seed: number): WeightStore {
  const store: WeightStore = new Map();
  for (const block of ir.blocks) {
    const bm = buildBlockModel(ir, block, seed);
    for (const layer of bm.model.layers) {
      const values = layer.getWeights();
      layer.weights.forEach((v, i) => {
        const t = values[i]!;
        store.set(v.originalName, { shape: t.shape, data: (t.dataSync() as Float32Array).slice() });
      });
    }
    bm.model.dispose();
  }
  return store;
}
