import type { Span } from "../diagnostics/index.js";

/** A tensor shape without the batch dimension: [H, W, C] for feature maps, [N] for vectors (NHWC layout). */
export type Shape = number[];

export type DeviceRole = "edge" | "cloud";
export type Placement = DeviceRole | "auto";
export type Precision = "int8" | "fp16" | "fp32";
export type DType = "uint8" | "int8" | "float16" | "float32";

export type AttrValue = number | string | boolean | number[];

export interface IrTensor {
  id: number;
  name: string;
  block: string;
  /** -1 for the model input. */
  producer: number;
  span: Span;
}

export interface IrNode {
  id: number;
  op: string;
  name: string;
  block: string;
  inputs: number[];
  output: number;
  attrs: Record<string, AttrValue>;
  span: Span;
}

/** A tensor a block reads from another block; gradient stops there unless `gradient` is true. */
export interface BlockRead {
  tensor: number;
  from: string;
  gradient: boolean;
  /** Where the block first reads it, and how it is written there (`main.features`). */
  span: Span;
  label: string;
}

export interface IrBlock {
  name: string;
  placement: Placement;
  nodes: number[];
  reads: BlockRead[];
  /** Tensors other blocks may read as `block.name`. */
  exports: Record<string, number>;
  span: Span;
}

export type ClassSet = { kind: "all" } | { kind: "hard" } | { kind: "easy" } | { kind: "labels"; labels: string[] };

export interface IrExit {
  name: string;
  block: string;
  tensor: number;
  classes: ClassSet;
  span: Span;
}

export interface DeviceSpec {
  role: DeviceRole;
  preset: string | undefined;
  precision: Precision;
  /** Budgets; undefined means unconstrained. */
  weightMemoryBytes: number | undefined;
  activationMemoryBytes: number | undefined;
  macsPerInference: number | undefined;
  energyPerMacJ: number;
  throughputMacsPerS: number;
  uplinkBps: number;
  energyPerBitJ: number;
  rttS: number;
  /** Where each budget was declared, for diagnostics. */
  spans: Record<string, Span>;
  span: Span | undefined;
}

export type Measure = "entropy" | "normalized_entropy" | "max_prob" | "margin" | "hard_mass";

export interface MeasureRef {
  measure: Measure;
  exit: string;
}

export type Threshold = { kind: "value"; value: number } | { kind: "calibrate"; metric: string; value: number };

export type Condition =
  | { kind: "threshold"; measure: MeasureRef; op: "<" | "<=" | ">" | ">="; threshold: Threshold }
  | { kind: "versus"; left: MeasureRef; op: "<" | "<=" | ">" | ">="; right: MeasureRef }
  | { kind: "argmax_in"; exit: string; set: ClassSet }
  | { kind: "and" | "or"; left: Condition; right: Condition }
  | { kind: "not"; operand: Condition };

export interface RouteRuleIr {
  target: string;
  when: Condition | undefined;
  span: Span;
}

export interface HardClassSelection {
  /** How the hard classes are chosen: lowest per-class accuracy of an exit, or a fixed list. */
  kind: "lowest_accuracy" | "labels";
  exit?: string;
  count: number;
  labels?: string[];
}

export type OptimizerSpec = { kind: "sgd"; lr: number; momentum: number; weightDecay: number; nesterov: boolean } | { kind: "adam"; lr: number; weightDecay: number };
export type ScheduleSpec = { kind: "constant" } | { kind: "cosine" } | { kind: "step"; every: number; gamma: number };

export interface TrainStage {
  name: string;
  train: string[];
  freeze: string[];
  data: "all" | "hard" | "easy";
  epochs: number;
  batch: number;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  seed: number;
  /** Joint training: weight per exit; absent for stage-wise training of one exit per block set. */
  lossWeights: Record<string, number> | undefined;
  augment: "none" | "crop_flip";
}

export interface TrainingPlan {
  mode: "stagewise" | "joint";
  seed: number;
  validationSplit: number;
  stages: TrainStage[];
}

export interface AssertionIr {
  metric: string;
  op: "<" | "<=" | ">" | ">=" | "==" | "!=";
  value: number;
  /** compile: checked from costs now; eval: checked after evaluation. */
  when: "compile" | "eval";
  text: string;
  span: Span;
}

/** The typed graph of one spec, after lowering (macros expanded, names resolved). */
export interface IrGraph {
  model: string;
  input: { name: string; dtype: DType; shape: Shape; tensor: number; span: Span };
  labels: string[];
  tensors: IrTensor[];
  nodes: IrNode[];
  blocks: IrBlock[];
  exits: IrExit[];
  devices: { edge: DeviceSpec; cloud: DeviceSpec };
  hardClasses: HardClassSelection;
  routing: RouteRuleIr[];
  training: TrainingPlan;
  assertions: AssertionIr[];
  objective: "energy" | "latency";
  sourceFiles: string[];
}

export function blockByName(ir: IrGraph, name: string): IrBlock | undefined {
  return ir.blocks.find((b) => b.name === name);
}

export function exitByName(ir: IrGraph, name: string): IrExit | undefined {
  return ir.exits.find((e) => e.name === name);
}

export function numElements(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: Shape): string {
  return shape.join("×");
}

export const PRECISION_BYTES: Record<Precision, number> = { int8: 1, fp16: 2, fp32: 4 };
export const DTYPE_BYTES: Record<DType, number> = { uint8: 1, int8: 1, float16: 2, float32: 4 };
