import { NO_COST, type OpDef } from "./op.js";

function elementwise(name: string, doc: string): OpDef {
  return { name, tensorInputs: 1, params: [], doc, inferShape: ([x]) => [...x!.shape], cost: () => NO_COST };
}

export const relu = elementwise("relu", "max(x, 0): `relu(x)`.");
export const relu6 = elementwise("relu6", "min(max(x, 0), 6): `relu6(x)`.");
