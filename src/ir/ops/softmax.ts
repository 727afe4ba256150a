import { NO_COST, type OpDef, requireRank } from "./op.js";

export const softmax: OpDef = {
  name: "softmax",
  tensorInputs: 1,
  params: [],
  doc: "Softmax over a vector: `softmax(x)`. Exits apply it themselves; write it only where probabilities are needed inside a block.",
  inferShape([x]) {
    return requireRank(x!, 1, "softmax", "apply `global_avg_pool` or `flatten` first") ?? [...x!.shape];
  },
  cost: () => NO_COST,
};
