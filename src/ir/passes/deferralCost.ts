/**
 * What the learned deferral model costs the edge (format/defer.ts): it runs on the edge for every
 * input whose rules read `defer(…)`, and its float32 weights are stored there. The compiler counts
 * it in the routes' edge MACs and in the edge's totals, against the budgets.
 */
import { DEFAULT_HIDDEN, deferMacs, deferralRead, deferWeightCount } from "../../format/defer.js";
import type { PassContext } from "./pass.js";

export interface DeferralCost {
  exits: string[];
  macs: number;
  params: number;
  /** float32, as shipped. */
  weightBytes: number;
}

export function deferralCost(ctx: Pick<PassContext, "ir" | "shapes">): DeferralCost | undefined {
  const { ir, shapes } = ctx;
  const read = deferralRead(ir.routing);
  if (!read) return undefined;
  const widths = read.exits.map((name) => {
    const x = ir.exits.find((e) => e.name === name);
    const shape = x ? shapes[x.tensor] : undefined;
    return shape ? shape[shape.length - 1]! : 0;
  });
  const hidden = ir.training.stages.find((s) => s.defer)?.defer?.hidden ?? DEFAULT_HIDDEN;
  const params = deferWeightCount(widths, hidden);
  return { exits: read.exits, macs: deferMacs(widths, hidden), params, weightBytes: 4 * params };
}
