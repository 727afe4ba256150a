/**
 * How long training has left, from the epochs measured so far: the rest of the stage under way at
 * its own pace, and the later stages at the same pace per unit of work. A stage's work per image
 * is that of the blocks it runs, a trained block's counted three times (its forward pass and the
 * two gradients of its backward pass); a block's work is its MACs plus ELEMENT_WORK for each
 * element its layers write (batch norms, activations and pools cost by the element, not the MAC).
 */
import type { IrJson, TrainStage } from "../../format/ir.js";
import { blocksFor } from "./forward.js";
import { stageExits } from "./stage.js";

/**
 * MACs one written element costs as much time as. With 80, the example's stages (main; adaptive
 * and extension over main frozen; cloud) come out 1 : 1.86 : 3.18 per image, where the wasm
 * backend measured 1 : 1.79 : 3.16 (933, 520 and 295 images/s on the full run); by MACs alone
 * they would be 1 : 2.98 : 5.70.
 */
const ELEMENT_WORK = 80;

/** Relative work of one image in a stage. */
export function stageWork(ir: IrJson, stage: TrainStage): number {
  const trained = new Set(stage.train);
  const elements = new Map(ir.tensors.map((t) => [t.id, t.shape.reduce((a, b) => a * b, 1)]));
  let work = 0;
  for (const block of blocksFor(ir, stageExits(ir, stage).map((e) => e.name))) {
    const w = ir.nodes.filter((n) => n.block === block).reduce((s, n) => s + n.macs + ELEMENT_WORK * elements.get(n.output)!, 0);
    work += trained.has(block) ? 3 * w : w;
  }
  return work;
}

/** The share of the training images a stage trains on: all, or the hard (easy) classes' share of the labels. */
export function stageShare(ir: IrJson, stage: TrainStage): number {
  const hard = ir.hardClasses.count / ir.labels.length;
  return stage.data === "all" ? 1 : stage.data === "hard" ? hard : 1 - hard;
}

export interface Pace {
  /** The stage under way (its index), its epochs done and in all. */
  stage: number;
  epochsDone: number;
  epochs: number;
  /** Seconds and images of the stage's epochs so far. */
  seconds: number;
  samples: number;
  /** Images of one epoch on all classes. */
  trainImages: number;
  /** The epochs each stage runs (`--epochs` replaces the spec's). */
  epochsOf(stage: number): number;
}

/** Seconds left in the stage under way and in the whole run. */
export function timeLeft(ir: IrJson, p: Pace): { stage: number; run: number } {
  const stages = ir.training.stages;
  const stage = (p.seconds / p.epochsDone) * (p.epochs - p.epochsDone);
  const work = stageWork(ir, stages[p.stage]!);
  const secondsPerWork = work > 0 ? p.seconds / p.samples / work : 0;
  let run = stage;
  for (let k = p.stage + 1; k < stages.length; k++) {
    const s = stages[k]!;
    // A deferral stage takes seconds: it is not counted.
    if (s.defer) continue;
    run += p.epochsOf(k) * p.trainImages * stageShare(ir, s) * stageWork(ir, s) * secondsPerWork;
  }
  return { stage, run };
}

/** A duration as the epoch line shows it: `45s`, `4m 12s`, `1h 05m`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** The end of the epoch line: the time left in the stage and, when later stages follow, in the run; undefined after the last epoch. */
export function timeLeftText(ir: IrJson, p: Pace): string | undefined {
  const left = timeLeft(ir, p);
  const later = ir.training.stages.slice(p.stage + 1).some((s) => !s.defer);
  const parts: string[] = [];
  if (p.epochsDone < p.epochs) parts.push(`${formatDuration(left.stage)} left in ${ir.training.stages[p.stage]!.name}`);
  if (later) parts.push(`~${formatDuration(left.run)} in the run`);
  return parts.length ? parts.join(", ") : undefined;
}
