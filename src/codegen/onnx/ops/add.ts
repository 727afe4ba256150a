import type { OpLowering } from "../graph.js";

/** Two summands as Add, more as one Sum. */
export const add: OpLowering = (cx) => {
  const names = cx.inputs.map((v) => v.name);
  return { name: cx.g.op(names.length === 2 ? "Add" : "Sum", names, {}, cx.out), layout: cx.inputs[0]!.layout, shape: cx.outShape };
};
