import type { OpLowering } from "../graph.js";

/** Zero padding as ONNX `Pad` (constant mode, value 0) on the NCHW map: channels after the last, rows, columns. */
export const pad: OpLowering = (cx) => {
  const a = cx.node.attrs;
  const begins = [0, 0, a.top as number, a.left as number];
  const ends = [0, a.channels as number, a.bottom as number, a.right as number];
  const pads = cx.g.int64s(`${cx.out}.pads`, [8], [...begins, ...ends]);
  return { name: cx.g.op("Pad", [cx.inputs[0]!.name, pads], { mode: "constant" }, cx.out), layout: "NCHW", shape: cx.outShape };
};
