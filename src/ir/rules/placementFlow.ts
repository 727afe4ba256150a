import { Codes } from "../../diagnostics/index.js";
import type { Pass } from "../passes/pass.js";

/** Data flows edge → cloud only: an edge block cannot wait on a cloud block's tensors. */
export const placementFlowRule: Pass = {
  name: "placementFlowRule",
  run({ ir, bag }) {
    for (const b of ir.blocks) {
      if (b.placement !== "edge") continue;
      for (const r of b.reads) {
        const from = ir.blocks.find((x) => x.name === r.from);
        if (from && from.placement !== "edge") {
          bag.error(Codes.BadValue, `edge block \`${b.name}\` reads \`${r.label}\` from ${from.placement} block \`${from.name}\`; data only flows from the edge to the cloud`, r.span, {
            hint: `place \`${b.name}\` on the cloud, or \`${from.name}\` on the edge`,
          });
        }
      }
    }
  },
};
