import type { OpLowering } from "../graph.js";

/** A batch norm not folded into a convolution (after an add, a concat or a dense layer): inference-mode BatchNormalization. */
export const batchnorm: OpLowering = (cx) => {
  const x = cx.inputs[0]!;
  if (cx.fold) return x;
  const c = x.shape[x.shape.length - 1]!;
  const n = cx.node.name;
  const g = cx.g;
  const inputs = [x.name, ...["gamma", "beta", "moving_mean", "moving_variance"].map((k) => g.floats(`${n}.${k}`, [c], cx.weight(k).data))];
  return { name: g.op("BatchNormalization", inputs, { epsilon: { float: cx.node.attrs.epsilon as number } }, cx.out), layout: x.layout, shape: cx.outShape };
};
