import type { OptimizerSpec, ScheduleSpec } from "../../format/ir.js";
import { tf } from "./tf.js";

/** Learning rate for epoch e (0-based) of E. */
export function learningRate(base: number, schedule: ScheduleSpec, epoch: number, epochs: number): number {
  switch (schedule.kind) {
    case "constant":
      return base;
    case "cosine":
      return base * 0.5 * (1 + Math.cos((Math.PI * epoch) / Math.max(1, epochs)));
    case "step":
      return base * schedule.gamma ** Math.floor(epoch / schedule.every);
  }
}

export interface StageOptimizer {
  optimizer: tf.Optimizer;
  setLearningRate(lr: number): void;
  weightDecay: number;
}

export function makeOptimizer(spec: OptimizerSpec): StageOptimizer {
  if (spec.kind === "adam") {
    const opt = tf.train.adam(spec.lr);
    return { optimizer: opt, setLearningRate: (lr) => ((opt as unknown as { learningRate: number }).learningRate = lr), weightDecay: spec.weightDecay };
  }
  const opt = spec.momentum > 0 ? tf.train.momentum(spec.lr, spec.momentum, spec.nesterov) : tf.train.sgd(spec.lr);
  return { optimizer: opt, setLearningRate: (lr) => opt.setLearningRate(lr), weightDecay: spec.weightDecay };
}
