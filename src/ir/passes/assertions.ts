import { Codes } from "../../diagnostics/index.js";
import type { AssertionIr } from "../graph.js";
import { formatBytes, formatCount } from "./budgets.js";
import type { Pass, PassContext } from "./pass.js";
import { holds } from "../../format/conditions.js";

export { holds };

/** The value of a compile-time metric such as `edge.weights` or `main.macs`. */
export function compileMetric(ctx: PassContext, metric: string): number | undefined {
  const [owner, m] = metric.split(".") as [string, string];
  const totals = ctx.results.deviceTotals!;
  const scope = owner === "edge" || owner === "cloud" || owner === "total" ? totals[owner] : ctx.results.blockCost!.find((b) => b.name === owner);
  if (!scope) return undefined;
  switch (m) {
    case "params":
      return scope.params;
    case "macs":
      return scope.macs;
    case "weights":
      return scope.weightBytes;
    case "activations":
      return scope.peakActivationBytes;
  }
  return undefined;
}


/** Checks cost assertions now; accuracy and fraction assertions wait for `meanet eval`. */
export const checkAssertions: Pass = {
  name: "checkAssertions",
  run(ctx) {
    for (const a of ctx.ir.assertions) {
      if (a.when !== "compile") continue;
      const v = compileMetric(ctx, a.metric);
      if (v === undefined || holds(a.op, v, a.value)) continue;
      const fmt = a.metric.endsWith("weights") || a.metric.endsWith("activations") ? formatBytes : formatCount;
      ctx.bag.error(Codes.AssertionFailed, `assertion failed: \`${a.text}\`; ${a.metric} is ${fmt(v)}`, a.span);
    }
  },
};
