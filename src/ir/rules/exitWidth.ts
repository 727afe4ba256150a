import { Codes } from "../../diagnostics/index.js";
import type { ClassSet, IrGraph } from "../graph.js";
import type { Pass } from "../passes/pass.js";

export function classCount(ir: IrGraph, set: ClassSet): number {
  switch (set.kind) {
    case "all":
      return ir.labels.length;
    case "hard":
      return ir.hardClasses.count;
    case "easy":
      return ir.labels.length - ir.hardClasses.count;
    case "labels":
      return set.labels.length;
  }
}

/** An exit's tensor is a vector with one score per class it covers. */
export const exitWidthRule: Pass = {
  name: "exitWidthRule",
  run({ ir, shapes, bag }) {
    for (const x of ir.exits) {
      const shape = shapes[x.tensor];
      if (!shape) continue;
      const want = classCount(ir, x.classes);
      const over = x.classes.kind === "labels" ? `${want} listed labels` : `${x.classes.kind} classes (${want})`;
      if (shape.length !== 1) {
        bag.error(Codes.ExitWidth, `exit \`${x.name}\` must be a vector of ${want} class scores, but it is ${shape.join("×")}`, x.span, { hint: "end the head with `dense(global_avg_pool(x), …)`" });
      } else if (shape[0] !== want) {
        const name = x.classes.kind === "hard" ? "num_hard" : x.classes.kind === "easy" ? "num_easy" : x.classes.kind === "all" ? "num_classes" : String(want);
        bag.error(Codes.ExitWidth, `exit \`${x.name}\` is over ${over} but its tensor has ${shape[0]} scores`, x.span, { hint: `use \`dense(…, ${name})\`` });
      }
    }
  },
};
