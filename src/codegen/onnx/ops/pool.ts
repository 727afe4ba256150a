import { spatialPads, type OpLowering } from "../graph.js";

/**
 * Window pooling. `same` padding leaves padded cells out of both the max and the average (as
 * TensorFlow does); an explicit padding is zeros that count in the average, as in the trained model.
 */
function windowPool(type: "MaxPool" | "AveragePool"): OpLowering {
  return (cx) => {
    const a = cx.node.attrs;
    const x = cx.inputs[0]!;
    const k = a.kernel as number;
    const stride = (a.stride as number | undefined) ?? k;
    const attrs: Record<string, number | number[]> = { kernel_shape: [k, k], strides: [stride, stride], pads: spatialPads(a.padding, x.shape, k, stride) };
    if (type === "AveragePool") attrs.count_include_pad = typeof a.padding === "number" ? 1 : 0;
    return { name: cx.g.op(type, [x.name], attrs, cx.out), layout: "NCHW", shape: cx.outShape };
  };
}

export const maxPool = windowPool("MaxPool");
export const avgPool = windowPool("AveragePool");

/** Mean over H and W, as a vector [N, C]. */
export const globalAvgPool: OpLowering = (cx) => {
  const pooled = cx.g.op("GlobalAveragePool", [cx.inputs[0]!.name], {}, cx.g.unique(`${cx.out}.nc11`));
  return { name: cx.g.op("Flatten", [pooled], { axis: 1 }, cx.out), layout: "NC", shape: cx.outShape };
};
