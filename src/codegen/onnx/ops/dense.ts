import type { OpLowering } from "../graph.js";

/** x·W + b as Gemm; the tfjs kernel [in, out] is already the B operand. */
export const dense: OpLowering = (cx) => {
  const x = cx.inputs[0]!;
  const units = cx.node.attrs.units as number;
  const kernel = cx.weight("kernel");
  const inputs = [x.name, cx.g.floats(`${cx.node.name}.weight`, kernel.shape, kernel.data)];
  if (cx.hasWeight("bias")) inputs.push(cx.g.floats(`${cx.node.name}.bias`, [units], cx.weight("bias").data));
  return { name: cx.g.op("Gemm", inputs, {}, cx.out), layout: "NC", shape: cx.outShape };
};
