import { Codes } from "../../diagnostics/index.js";
import { NO_COST, type OpDef, requireRank, windowOutput, describe } from "./op.js";

function pool(name: string, doc: string): OpDef {
  return {
    name,
    tensorInputs: 1,
    doc,
    params: [
      { name: "kernel", kind: "int", default: 2, min: 1 },
      { name: "stride", kind: "int", optional: true, min: 1 },
      { name: "padding", kind: "padding", default: "valid" },
    ],
    inferShape([x], a) {
      const rank = requireRank(x!, 3, name);
      if (rank) return rank;
      const k = a.kernel as number;
      const s = (a.stride as number | undefined) ?? k;
      const oh = windowOutput(x!.shape[0]!, k, s, a.padding!);
      const ow = windowOutput(x!.shape[1]!, k, s, a.padding!);
      if (oh < 1 || ow < 1) return { code: Codes.EmptyOutput, message: `${name} with a ${k}×${k} window does not fit ${describe(x!)}`, inputs: [0], hint: "use `padding: same` or a smaller window" };
      return [oh, ow, x!.shape[2]!];
    },
    cost: () => NO_COST,
  };
}

export const maxPool = pool("max_pool", "Max pooling: `max_pool(x, kernel: 2, stride: kernel, padding: valid)`.");
export const avgPool = pool("avg_pool", "Average pooling: `avg_pool(x, kernel: 2, stride: kernel, padding: valid)`.");

export const globalAvgPool: OpDef = {
  name: "global_avg_pool",
  aliases: ["gap"],
  tensorInputs: 1,
  params: [],
  doc: "Averages each channel over H×W, giving a vector of C: `global_avg_pool(x)` (alias `gap`).",
  inferShape([x]) {
    return requireRank(x!, 3, "global_avg_pool") ?? [x!.shape[2]!];
  },
  cost: () => NO_COST,
};
