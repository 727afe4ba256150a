import { Codes } from "../../diagnostics/index.js";
import { type OpDef, requireRank, windowOutput, describe } from "./op.js";

export const conv2d: OpDef = {
  name: "conv2d",
  tensorInputs: 1,
  doc: "2-D convolution over an H×W×C map: `conv2d(x, filters, kernel: 3, stride: 1, padding: same, groups: 1, dilation: 1, bias: true)`.",
  params: [
    { name: "filters", kind: "int", min: 1 },
    { name: "kernel", kind: "int", default: 3, min: 1 },
    { name: "stride", kind: "int", default: 1, min: 1 },
    { name: "padding", kind: "padding", default: "same" },
    { name: "groups", kind: "int", default: 1, min: 1 },
    { name: "dilation", kind: "int", default: 1, min: 1 },
    { name: "bias", kind: "bool", default: true },
  ],
  inferShape([x], a) {
    const rank = requireRank(x!, 3, "conv2d", "add `flatten` only after the convolutional layers");
    if (rank) return rank;
    const [h, w, c] = x!.shape as [number, number, number];
    const k = a.kernel as number;
    const groups = a.groups as number;
    const filters = a.filters as number;
    if (c % groups !== 0 || filters % groups !== 0) {
      return { code: Codes.ChannelGroups, message: `conv2d groups: ${groups} must divide both the ${c} input channels of ${describe(x!)} and the ${filters} filters`, inputs: [0], hint: `choose groups among the common divisors of ${c} and ${filters}` };
    }
    if (a.stride !== 1 && a.dilation !== 1) {
      return { code: Codes.ChannelGroups, message: "conv2d cannot combine stride > 1 with dilation > 1", hint: "use one of them per layer" };
    }
    const oh = windowOutput(h, k, a.stride as number, a.padding!, a.dilation as number);
    const ow = windowOutput(w, k, a.stride as number, a.padding!, a.dilation as number);
    if (oh < 1 || ow < 1) {
      return { code: Codes.EmptyOutput, message: `conv2d with a ${k}×${k} kernel does not fit ${describe(x!)}: the output would be ${oh}×${ow}`, inputs: [0], hint: "use `padding: same` or a smaller kernel" };
    }
    return [oh, ow, filters];
  },
  cost([x], out, a) {
    const cin = x![2]!;
    const k = a.kernel as number;
    const perOutput = k * k * (cin / (a.groups as number));
    const cout = out[2]!;
    return { params: perOutput * cout + (a.bias ? cout : 0), macs: out[0]! * out[1]! * cout * perOutput, buffers: 0, storage: { kind: "kernel", weights: perOutput * cout, channels: cout, bias: Boolean(a.bias) } };
  },
};
