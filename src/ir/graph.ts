import type { Span } from "../diagnostics/index.js";
import type { AttrValue, DeviceRole, DType, HardClassSelection, OptimizerSpec, Placement, Precision, ScheduleSpec, TrainingPlan, TrainStage } from "../format/ir.js";
import type { ClassSet, Condition, Measure, MeasureRef, Threshold } from "../format/conditions.js";
import type { Calibration } from "../format/quantize.js";

/** The vocabulary the build directory shares with the runtime is defined by the on-disk contract (src/format). */
export type { AttrValue, DeviceRole, DType, HardClassSelection, OptimizerSpec, Placement, Precision, ScheduleSpec, TrainingPlan, TrainStage, ClassSet, Condition, Measure, MeasureRef, Threshold };

/** A tensor shape without the batch dimension: [H, W, C] for feature maps, [N] for vectors (NHWC layout). */
export type Shape = number[];

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

export interface RouteRuleIr {
  target: string;
  when: Condition | undefined;
  span: Span;
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

/** The spec's `quantize` section: how export calibrates the activation ranges of int8 partitions. */
export interface QuantizeIr extends Calibration {
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
  /** Undefined when the spec has no `quantize` section (export then uses DEFAULT_CALIBRATION). */
  quantize: QuantizeIr | undefined;
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

export { PRECISION_BYTES } from "../format/quantize.js";
export const DTYPE_BYTES: Record<DType, number> = { uint8: 1, int8: 1, float16: 2, float32: 4 };
