import { relu, relu6 } from "./activations.js";
import { add } from "./add.js";
import { batchnorm } from "./batchnorm.js";
import { concat } from "./concat.js";
import { conv2d } from "./conv2d.js";
import { dense } from "./dense.js";
import { depthwiseConv2d } from "./depthwiseConv2d.js";
import { dropout } from "./dropout.js";
import { flatten } from "./flatten.js";
import type { OpDef } from "./op.js";
import { pad } from "./pad.js";
import { avgPool, globalAvgPool, maxPool } from "./pool.js";
import { softmax } from "./softmax.js";

export const OPS: readonly OpDef[] = [conv2d, depthwiseConv2d, batchnorm, relu, relu6, add, concat, maxPool, avgPool, globalAvgPool, dense, dropout, flatten, pad, softmax];

const byName = new Map<string, OpDef>();
for (const op of OPS) {
  byName.set(op.name, op);
  for (const a of op.aliases ?? []) byName.set(a, op);
}

export function lookupOp(name: string): OpDef | undefined {
  return byName.get(name);
}

export function opNames(): string[] {
  return [...byName.keys()];
}

export type { OpDef, ParamSpec, ShapeInput, ShapeProblem, OpCost, Storage } from "./op.js";
export { applyShapeRule, isProblem, isRequired, shapeInput } from "./op.js";
