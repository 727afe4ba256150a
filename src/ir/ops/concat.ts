import { Codes } from "../../diagnostics/index.js";
import { describe, NO_COST, type OpDef } from "./op.js";

export const concat: OpDef = {
  name: "concat",
  tensorInputs: "variadic",
  params: [],
  doc: "Concatenates two or more tensors along the channel (last) axis; the other dimensions must agree: `concat(main.features, adaptive.out)`.",
  inferShape(inputs) {
    const first = inputs[0]!;
    for (let i = 1; i < inputs.length; i++) {
      const other = inputs[i]!;
      const same = other.shape.length === first.shape.length && other.shape.slice(0, -1).every((d, j) => d === first.shape[j]);
      if (!same) {
        return {
          code: Codes.ShapeMismatch,
          message: `concat of tensors whose non-channel dimensions differ: ${describe(first)} and ${describe(other)}`,
          inputs: [0, i],
          hint: "concat joins channels; the spatial sizes must match (check strides and pooling on both paths)",
        };
      }
    }
    const channels = inputs.reduce((s, t) => s + t.shape[t.shape.length - 1]!, 0);
    return [...first.shape.slice(0, -1), channels];
  },
  cost: () => NO_COST,
};
