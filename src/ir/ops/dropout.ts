import { NO_COST, type OpDef } from "./op.js";

export const dropout: OpDef = {
  name: "dropout",
  tensorInputs: 1,
  params: [{ name: "rate", kind: "number", default: 0.5, min: 0, max: 0.99 }],
  doc: "Zeroes a fraction of activations while training; identity at inference: `dropout(x, rate: 0.5)`.",
  inferShape: ([x]) => [...x!.shape],
  cost: () => NO_COST,
};
