import type { OpLowering } from "../graph.js";

/** Softmax over channels: the last axis of a vector, axis 1 of an NCHW map. */
export const softmax: OpLowering = (cx) => {
  const x = cx.inputs[0]!;
  return { name: cx.g.op("Softmax", [x.name], { axis: x.layout === "NCHW" ? 1 : -1 }, cx.out), layout: x.layout, shape: cx.outShape };
};
