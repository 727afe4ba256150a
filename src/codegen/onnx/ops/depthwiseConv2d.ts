import type { OpLowering } from "../graph.js";
import { emitConv, kernelToOihw } from "./conv2d.js";

/** A depthwise convolution is a Conv with one group per input channel; [kh, kw, C, m] reads as cin = 1, cout = C·m. */
export const depthwiseConv2d: OpLowering = (cx) => {
  const channels = cx.inputs[0]!.shape[2]!;
  const multiplier = (cx.node.attrs.multiplier as number | undefined) ?? 1;
  const k = cx.node.attrs.kernel as number;
  const cout = channels * multiplier;
  const oihw = kernelToOihw(cx.weight("depthwise_kernel").data, k, k, 1, cout);
  return emitConv(cx, oihw, cout, 1, channels, cx.hasWeight("bias") ? cx.weight("bias").data : undefined);
};
