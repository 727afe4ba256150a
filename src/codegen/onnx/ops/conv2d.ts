import { spatialPads, type FoldedNorm, type LowerContext, type OpLowering, type Value } from "../graph.js";

/**
 * tfjs kernels are [kh, kw, in/groups, out]; ONNX wants [out, in/groups, kh, kw]. A depthwise
 * kernel [kh, kw, C, m] is a grouped convolution with C groups whose output o = c·m + j.
 */
export function kernelToOihw(kernel: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = kernel[((y * kw + x) * cin + i) * cout + o]!;
  return out;
}

/** Scales each output channel's filter by γ/√(σ²+ε) and returns the bias (b − μ)·scale + β. */
export function foldNorm(weights: Float32Array, bias: Float32Array | undefined, cout: number, bn: FoldedNorm): { weights: Float32Array; bias: Float32Array } {
  const per = weights.length / cout;
  const w = new Float32Array(weights.length);
  const b = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const scale = bn.gamma[o]! / Math.sqrt(bn.variance[o]! + bn.epsilon);
    for (let i = 0; i < per; i++) w[o * per + i] = weights[o * per + i]! * scale;
    b[o] = ((bias?.[o] ?? 0) - bn.mean[o]!) * scale + bn.beta[o]!;
  }
  return { weights: w, bias: b };
}

/** An ONNX Conv from an OIHW kernel, with the batch norm folded in when there is one. */
export function emitConv(cx: LowerContext, oihw: Float32Array, cout: number, cinPerGroup: number, groups: number, bias: Float32Array | undefined): Value {
  const a = cx.node.attrs;
  const k = a.kernel as number;
  const stride = a.stride as number;
  const dilation = (a.dilation as number | undefined) ?? 1;
  const x = cx.inputs[0]!;
  const folded = cx.fold ? foldNorm(oihw, bias, cout, cx.fold) : { weights: oihw, bias };
  const inputs = [x.name, cx.g.floats(`${cx.node.name}.weight`, [cout, cinPerGroup, k, k], folded.weights)];
  if (folded.bias) inputs.push(cx.g.floats(`${cx.node.name}.bias`, [cout], folded.bias));
  const attrs = {
    kernel_shape: [k, k],
    strides: [stride, stride],
    dilations: [dilation, dilation],
    group: groups,
    pads: spatialPads(a.padding, x.shape, k, stride, dilation),
  };
  return { name: cx.g.op("Conv", inputs, attrs, cx.out), layout: "NCHW", shape: cx.outShape };
}

export const conv2d: OpLowering = (cx) => {
  const cin = cx.inputs[0]!.shape[2]!;
  const cout = cx.node.attrs.filters as number;
  const groups = (cx.node.attrs.groups as number | undefined) ?? 1;
  const k = cx.node.attrs.kernel as number;
  const oihw = kernelToOihw(cx.weight("kernel").data, k, k, cin / groups, cout);
  return emitConv(cx, oihw, cout, cin / groups, groups, cx.hasWeight("bias") ? cx.weight("bias").data : undefined);
};
