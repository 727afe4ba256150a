import type { IrJson, IrJsonExit } from "../../format/ir.js";

/** For each dataset label, its index among an exit's classes, or −1 when the exit does not cover it. */
export function exitLabelMap(ir: IrJson, exit: IrJsonExit, hard: number[]): Int32Array {
  const k = ir.labels.length;
  const map = new Int32Array(k).fill(-1);
  const hardSet = new Set(hard);
  let ids: number[];
  switch (exit.classes.kind) {
    case "all":
      ids = [...Array(k).keys()];
      break;
    case "hard":
      ids = hard;
      break;
    case "easy":
      ids = [...Array(k).keys()].filter((c) => !hardSet.has(c));
      break;
    case "labels": {
      const labels = exit.classes.labels;
      ids = labels.map((l) => ir.labels.indexOf(l));
      break;
    }
  }
  ids.forEach((c, i) => (map[c] = i));
  return map;
}

/** The `count` classes with the lowest accuracy; ties go to the lower class index. Returned sorted. */
export function lowestAccuracy(perClass: number[], count: number): number[] {
  return perClass
    .map((a, c) => ({ a, c }))
    .sort((x, y) => x.a - y.a || x.c - y.c)
    .slice(0, count)
    .map((x) => x.c)
    .sort((a, b) => a - b);
}
