import type { OpDef } from "./op.js";

export const batchnorm: OpDef = {
  name: "batchnorm",
  aliases: ["bn"],
  tensorInputs: 1,
  doc: "Batch normalisation over the last axis: `batchnorm(x, epsilon: 0.00001, momentum: 0.1)`. Trainable γ and β; running mean and variance are buffers.",
  params: [
    { name: "epsilon", kind: "number", default: 1e-5, min: 0 },
    { name: "momentum", kind: "number", default: 0.1, min: 0, max: 1 },
  ],
  inferShape([x]) {
    return [...x!.shape];
  },
  cost([x]) {
    const c = x![x!.length - 1]!;
    return { params: 2 * c, macs: 0, buffers: 2 * c, storage: { kind: "norm", channels: c } };
  },
};
