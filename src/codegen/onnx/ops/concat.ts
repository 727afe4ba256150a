import type { OpLowering } from "../graph.js";

/** The spec concatenates along channels (NHWC's last axis), which is axis 1 in NCHW and in NC alike. */
export const concat: OpLowering = (cx) => ({
  name: cx.g.op("Concat", cx.inputs.map((v) => v.name), { axis: 1 }, cx.out),
  layout: cx.inputs[0]!.layout,
  shape: cx.outShape,
});
