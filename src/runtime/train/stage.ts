/** What one training stage optimises, worked out before its first epoch: its exits, its data, the blocks in and out of the gradient tape. */
import type { IrJson, IrJsonExit, TrainStage } from "../../format/ir.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import type { BlockModel } from "./builder.js";
import { exitLabelMap } from "./classes.js";
import { subset, type Dataset } from "./data/dataset.js";
import { blocksFor } from "./forward.js";
import type { tf } from "./tf.js";

/** What a stage's optimizer step needs, apart from the data: its exits and losses, the blocks in and out of the gradient tape, the weights it trains. */
export interface StageGraph {
  stage: TrainStage;
  /** The stage's index in the training plan. */
  index: number;
  /** The exits whose losses the stage minimises; the first one's hits are the reported train accuracy. */
  exits: IrJsonExit[];
  /** Each exit's weight in the summed loss. */
  weights: number[];
  /** For each exit, dataset label → its index among the exit's classes, or −1. */
  labelMaps: Int32Array[];
  trained: Set<string>;
  /** Frozen blocks run once per batch outside the gradient tape. */
  frozenFirst: string[];
  /** The other blocks the exits need, run under the tape. */
  inTape: string[];
  vars: tf.Variable[];
  /** The weights weight decay applies to. */
  kernels: tf.Variable[];
}

export interface StagePlan extends StageGraph {
  epochs: number;
  data: Dataset;
}

/**
 * The plan of stage `index`. `hard` is null while no earlier stage has ranked the hard classes;
 * a stage that needs them then, or that trains no exit, is an error naming the stage.
 */
export function planStage(ir: IrJson, models: Map<string, BlockModel>, index: number, epochs: number, train: Dataset, hard: number[] | null): StagePlan {
  const stage = ir.training.stages[index]!;
  const exits = stageExits(ir, stage);
  if (exits.length === 0) throw noExit(ir, stage);
  if (!hard) {
    const why = needsHard(stage, exits);
    if (why) throw hardUnranked(ir, stage, why);
  }
  const data = stageData(train, stage, hard ?? [], ir.labels.length);
  return { ...stageGraph(ir, models, index, hard ?? []), epochs, data };
}

/** The data-free part of stage `index`'s plan (what a training worker needs). */
export function stageGraph(ir: IrJson, models: Map<string, BlockModel>, index: number, hard: number[]): StageGraph {
  const stage = ir.training.stages[index]!;
  const exits = stageExits(ir, stage);
  const trained = new Set(stage.train);
  const needed = blocksFor(ir, exits.map((e) => e.name));
  const frozenFirst = leadingFrozen(ir, needed, trained);
  const inTape = needed.filter((b) => !frozenFirst.includes(b));
  const vars = [...trained].flatMap((b) => models.get(b)!.model.trainableWeights.map((w) => w.read() as tf.Variable));
  const kernels = vars.filter((v) => /kernel|depthwise/.test(v.name));
  const labelMaps = exits.map((e) => exitLabelMap(ir, e, hard));
  const weights = exits.map((e) => stage.lossWeights?.[e.name] ?? 1);
  return { stage, index, exits, weights, labelMaps, trained, frozenFirst, inTape, vars, kernels };
}

/** The exits a stage optimises: joint stages name them with weights; stage-wise ones take the trained blocks' exits. */
export function stageExits(ir: IrJson, stage: TrainStage): IrJsonExit[] {
  if (stage.lossWeights) return ir.exits.filter((e) => stage.lossWeights![e.name] !== undefined);
  return ir.exits.filter((e) => stage.train.includes(e.block));
}

/** Why the stage needs the hard classes (its data or an exit over them), or undefined when it does not. */
function needsHard(stage: TrainStage, exits: IrJsonExit[]): string | undefined {
  if (stage.data !== "all") return `its \`data: ${stage.data}\``;
  const exit = exits.find((e) => e.classes.kind === "hard" || e.classes.kind === "easy");
  return exit ? `exit \`${exit.name}\`, which is over the ${exit.classes.kind} classes` : undefined;
}

function noExit(ir: IrJson, stage: TrainStage): MeanetError {
  const withExits = ir.exits.map((e) => (e.block === e.name ? `\`${e.name}\`` : `\`${e.block}\` (exit \`${e.name}\`)`)).join(", ");
  const problem = stage.lossWeights
    ? `weights no exit's loss: its \`loss: weighted(…)\` names no exit of \`${ir.model}\`; name at least one (${ir.exits.map((e) => `\`${e.name}\``).join(", ")})`
    : `trains no block with an exit (it trains ${stage.train.map((b) => `\`${b}\``).join(", ") || "nothing"}), so it has no loss to minimise; add a block with an exit to its \`train\` list (${withExits}), or train these blocks in a stage that has one`;
  return new MeanetError(Codes.BadStage, `training stage \`${stage.name}\` of \`${ir.model}\` ${problem}`);
}

function hardUnranked(ir: IrJson, stage: TrainStage, why: string): MeanetError {
  const exit = ir.exits.find((e) => e.name === ir.hardClasses.exit);
  const ranker = exit ? `exit \`${exit.name}\` (block \`${exit.block}\`)` : `exit \`${ir.hardClasses.exit}\``;
  return new MeanetError(
    Codes.BadStage,
    `training stage \`${stage.name}\` of \`${ir.model}\` needs the hard classes for ${why}, but no earlier stage trains ${ranker}, whose validation accuracy ranks them; ` +
      `put a stage that trains \`${exit?.block ?? ir.hardClasses.exit}\` before it, or name the hard classes in \`complexity { hard: [...] }\``,
  );
}

function stageData(train: Dataset, stage: TrainStage, hard: number[], classes: number): Dataset {
  if (stage.data === "all") return train;
  const keep = new Set(stage.data === "hard" ? hard : [...Array(classes).keys()].filter((c) => !hard.includes(c)));
  const idx: number[] = [];
  for (let i = 0; i < train.count; i++) if (keep.has(train.labels[i]!)) idx.push(i);
  return subset(train, idx);
}

/** Frozen blocks that depend only on frozen blocks: run once per batch outside the gradient tape. */
function leadingFrozen(ir: IrJson, needed: string[], trained: Set<string>): string[] {
  const out: string[] = [];
  for (const name of needed) {
    const block = ir.blocks.find((b) => b.name === name)!;
    if (!trained.has(name) && block.reads.every((r) => out.includes(r.from))) out.push(name);
  }
  return out;
}
