import { Codes } from "../../diagnostics/index.js";
import { type OpDef, requireRank, windowOutput, describe } from "./op.js";

export const depthwiseConv2d: OpDef = {
  name: "depthwise_conv2d",
  aliases: ["dwconv2d"],
  tensorInputs: 1,
  doc: "Depthwise convolution, one filter set per channel: `depthwise_conv2d(x, kernel: 3, stride: 1, padding: same, multiplier: 1, dilation: 1, bias: true)`.",
  params: [
    { name: "kernel", kind: "int", default: 3, min: 1 },
    { name: "stride", kind: "int", default: 1, min: 1 },
    { name: "padding", kind: "padding", default: "same" },
    { name: "multiplier", kind: "int", default: 1, min: 1 },
    { name: "dilation", kind: "int", default: 1, min: 1 },
    { name: "bias", kind: "bool", default: true },
  ],
  inferShape([x], a) {
    const rank = requireRank(x!, 3, "depthwise_conv2d");
    if (rank) return rank;
    const [h, w, c] = x!.shape as [number, number, number];
    const k = a.kernel as number;
    if (a.stride !== 1 && a.dilation !== 1) {
      return { code: Codes.ChannelGroups, message: "depthwise_conv2d cannot combine stride > 1 with dilation > 1", hint: "use one of them per layer" };
    }
    const oh = windowOutput(h, k, a.stride as number, a.padding!, a.dilation as number);
    const ow = windowOutput(w, k, a.stride as number, a.padding!, a.dilation as number);
    if (oh < 1 || ow < 1) {
      return { code: Codes.EmptyOutput, message: `depthwise_conv2d with a ${k}×${k} kernel does not fit ${describe(x!)}: the output would be ${oh}×${ow}`, inputs: [0], hint: "use `padding: same` or a smaller kernel" };
    }
    return [oh, ow, c * (a.multiplier as number)];
  },
  cost(_inputs, out, a) {
    const k = a.kernel as number;
    const cout = out[2]!;
    return { params: k * k * cout + (a.bias ? cout : 0), macs: out[0]! * out[1]! * cout * k * k, buffers: 0, storage: { kind: "kernel", weights: k * k * cout, channels: cout, bias: Boolean(a.bias) } };
  },
};
