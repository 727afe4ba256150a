import type { OpLowering } from "../graph.js";

export const relu: OpLowering = (cx) => {
  const x = cx.inputs[0]!;
  return { name: cx.g.op("Relu", [x.name], {}, cx.out), layout: x.layout, shape: cx.outShape };
};

/** min(max(x, 0), 6): Clip with its bounds as scalar inputs (opset ≥ 11). */
export const relu6: OpLowering = (cx) => {
  const x = cx.inputs[0]!;
  const lo = cx.g.floats(`${cx.node.name}.min`, [], new Float32Array([0]));
  const hi = cx.g.floats(`${cx.node.name}.max`, [], new Float32Array([6]));
  return { name: cx.g.op("Clip", [x.name, lo, hi], {}, cx.out), layout: x.layout, shape: cx.outShape };
};
