import { Codes } from "../../diagnostics/index.js";
import { describe, NO_COST, type OpDef } from "./op.js";

export const add: OpDef = {
  name: "add",
  tensorInputs: "variadic",
  params: [],
  doc: "Elementwise sum of two or more tensors of one shape (residual connections): `add(a, b)`.",
  inferShape(inputs) {
    const first = inputs[0]!;
    for (let i = 1; i < inputs.length; i++) {
      const other = inputs[i]!;
      if (other.shape.join(",") !== first.shape.join(",")) {
        return {
          code: Codes.ShapeMismatch,
          message: `add of tensors with different shapes: ${describe(first)} and ${describe(other)}`,
          inputs: [0, i],
          hint: "a residual connection needs a projection (1×1 conv2d with the same stride) when the shape changes",
        };
      }
    }
    return [...first.shape];
  },
  cost: () => NO_COST,
};
