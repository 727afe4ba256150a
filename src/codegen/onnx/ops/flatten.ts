import type { OpLowering } from "../graph.js";

/** The spec flattens in NHWC order (the order dense weights were trained in), so NCHW maps go back to NHWC first. */
export const flatten: OpLowering = (cx) => {
  const x = cx.inputs[0]!;
  if (x.layout === "NC") return x;
  const nhwc = cx.g.op("Transpose", [x.name], { perm: [0, 2, 3, 1] }, cx.g.unique(`${cx.out}.nhwc`));
  return { name: cx.g.op("Flatten", [nhwc], { axis: 1 }, cx.out), layout: "NC", shape: cx.outShape };
};
