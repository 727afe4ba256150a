import { type OpDef, requireRank } from "./op.js";

export const dense: OpDef = {
  name: "dense",
  tensorInputs: 1,
  params: [
    { name: "units", kind: "int", min: 1 },
    { name: "bias", kind: "bool", default: true },
  ],
  doc: "Fully connected layer over a vector: `dense(x, units, bias: true)`.",
  inferShape([x], a) {
    return requireRank(x!, 1, "dense", "apply `global_avg_pool(x)` or `flatten(x)` first") ?? [a.units as number];
  },
  cost([x], out, a) {
    const n = x![0]!;
    const units = out[0]!;
    return { params: n * units + (a.bias ? units : 0), macs: n * units, buffers: 0, storage: { kind: "kernel", weights: n * units, channels: units, bias: Boolean(a.bias) } };
  },
};
