/** The training report (train-report.json) and the test-set scores in it. */
import type { IrJson, IrJsonExit } from "../../format/ir.js";
import type { BlockModel } from "./builder.js";
import type { DeferralTraining } from "../../format/defer.js";
import { exitLabelMap } from "./classes.js";
import { subset, type Dataset } from "./data/dataset.js";
import { predictClasses } from "./forward.js";

export interface StageReport {
  name: string;
  epochs: number;
  samples: number;
  seconds: number;
  samplesPerSecond: number;
  finalLoss: number;
}

export interface TrainReport {
  backend: string;
  /** Threads that shared each training step (1: no data parallelism). */
  workers: number;
  seed: number;
  data: { source: string; train: number; validation: number; test: number };
  stages: StageReport[];
  exits: { name: string; classes: string; accuracy: number; samples: number }[];
  /** Accuracy of the main (ranking) exit on held-out validation data, per class, which picks the hard classes. */
  perClassAccuracy: { exit: string; values: number[] } | null;
  hardClasses: { ids: number[]; labels: string[] };
  /** Main and extension on the test samples of hard classes: the extension should win. */
  hardClassComparison: { samples: number; exits: Record<string, number> } | null;
  /** Architecture fingerprint of each block the weights were trained for (see blockSignature). */
  blocks: Record<string, string>;
  /** How the deferral model (weights/defer.json) was fitted, when the spec has a deferral stage. */
  deferral?: DeferralTraining;
  seconds: number;
}

/** Figures in the report keep six decimals. */
export function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Each exit's accuracy on the test samples of its classes, and the exits that can answer hard classes compared on them. */
export function testScores(ir: IrJson, models: Map<string, BlockModel>, test: Dataset, hard: number[]): Pick<TrainReport, "exits" | "hardClassComparison"> {
  const exits = ir.exits.map((e) => {
    const r = exitAccuracy(ir, models, test, e, hard);
    return { name: e.name, classes: e.classes.kind, accuracy: round(r.accuracy), samples: r.samples };
  });
  return { exits, hardClassComparison: hardComparison(ir, models, test, hard) };
}

/** An exit's accuracy on the images of `ds` in its classes, and how many those are. */
export function exitAccuracy(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, exit: IrJsonExit, hard: number[]): { accuracy: number; samples: number } {
  const map = exitLabelMap(ir, exit, hard);
  const idx: number[] = [];
  for (let i = 0; i < ds.count; i++) if (map[ds.labels[i]!]! >= 0) idx.push(i);
  const sub = subset(ds, idx);
  const [pred] = predictClasses(ir, models, sub, [exit.name]);
  let hits = 0;
  for (let i = 0; i < sub.count; i++) if (pred![i] === map[sub.labels[i]!]) hits++;
  return { accuracy: sub.count ? hits / sub.count : 0, samples: sub.count };
}

/** Every exit that can answer hard classes, scored on the test samples of hard classes (as hard-class labels). */
function hardComparison(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, hard: number[]): TrainReport["hardClassComparison"] {
  const candidates = ir.exits.filter((e) => hard.every((c) => exitLabelMap(ir, e, hard)[c]! >= 0));
  if (candidates.length < 2) return null;
  const idx: number[] = [];
  for (let i = 0; i < ds.count; i++) if (hard.includes(ds.labels[i]!)) idx.push(i);
  const sub = subset(ds, idx);
  const preds = predictClasses(ir, models, sub, candidates.map((e) => e.name));
  const exits: Record<string, number> = {};
  candidates.forEach((e, k) => {
    const map = exitLabelMap(ir, e, hard);
    let hits = 0;
    for (let i = 0; i < sub.count; i++) if (preds[k]![i] === map[sub.labels[i]!]) hits++;
    exits[e.name] = round(sub.count ? hits / sub.count : 0);
  });
  return { samples: sub.count, exits };
}
