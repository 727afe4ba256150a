import { Codes } from "../../diagnostics/index.js";
import type { Pass } from "../passes/pass.js";

/** An `auto` block is cut at one point, so it must be a chain: each node reads only the one before it. */
export const autoChainRule: Pass = {
  name: "autoChainRule",
  run({ ir, bag }) {
    for (const b of ir.blocks) {
      if (b.placement !== "auto") continue;
      for (let i = 1; i < b.nodes.length; i++) {
        const n = ir.nodes[b.nodes[i]!]!;
        const prev = ir.nodes[b.nodes[i - 1]!]!.output;
        if (n.inputs.length !== 1 || n.inputs[0] !== prev) {
          bag.error(Codes.AutoNotChain, `block \`${b.name}\` is placed \`on auto\` but is not a chain: \`${n.op}\` reads more than the layer before it`, n.span, {
            hint: "place blocks with branches or residuals `on edge` or `on cloud`, or split the block",
          });
          break;
        }
      }
      const used = new Set(b.nodes.slice(0, -1).map((n) => ir.nodes[n]!.output));
      for (const other of ir.blocks) {
        for (const r of other.reads) {
          if (r.from === b.name && used.has(r.tensor)) {
            bag.error(Codes.AutoNotChain, `block \`${other.name}\` reads an inner tensor of auto block \`${b.name}\`; only its last tensor may be read`, other.span);
          }
        }
      }
    }
  },
};
