import { NO_COST, type OpDef } from "./op.js";

export const flatten: OpDef = {
  name: "flatten",
  tensorInputs: 1,
  params: [],
  doc: "Flattens an H×W×C map into a vector of H·W·C (row-major NHWC order): `flatten(x)`.",
  inferShape: ([x]) => [x!.shape.reduce((a, b) => a * b, 1)],
  cost: () => NO_COST,
};
