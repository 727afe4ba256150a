/** The typed format of ir.json: the serialised IR that runtime stages (training, export) read. */
import type { ClassSet, Condition } from "./conditions.js";
import type { IrQuantize } from "./quantize.js";

export type DeviceRole = "edge" | "cloud";
export type Placement = DeviceRole | "auto";
export type Precision = "int8" | "fp16" | "fp32";
export type DType = "uint8" | "int8" | "float16" | "float32";

export type AttrValue = number | string | boolean | number[];

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
  /**
   * A deferral stage (`defer: mlp(hidden: H)` or `defer: logistic`) trains the learned deferral rule
   * instead of blocks: `train`, `freeze` and `data` are empty or unused. Absent for block stages.
   */
  defer?: { hidden: number };
}

export interface TrainingPlan {
  mode: "stagewise" | "joint";
  seed: number;
  validationSplit: number;
  stages: TrainStage[];
}

export interface IrJsonTensor {
  id: number;
  name: string;
  block: string;
  producer: number;
  shape: number[];
  loc: string | null;
}

export interface IrJsonNode {
  id: number;
  name: string;
  op: string;
  block: string;
  device: DeviceRole;
  inputs: number[];
  output: number;
  attrs: Record<string, AttrValue>;
  params: number;
  macs: number;
  /** Bytes of the node's weights in its device's file at the device's precision (a batch norm folded into its convolution: 0). */
  weightBytes: number;
  loc: string | null;
}

export interface IrJsonBlock {
  name: string;
  placement: Placement;
  nodes: number[];
  reads: { tensor: number; from: string; gradient: boolean }[];
  exports: Record<string, number>;
  loc: string | null;
}

export interface IrJsonExit {
  name: string;
  block: string;
  tensor: number;
  classes: ClassSet;
  loc: string | null;
}

export interface IrJsonDevice {
  role: DeviceRole;
  preset: string | null;
  precision: Precision;
  weightMemoryBytes: number | null;
  activationMemoryBytes: number | null;
  macsPerInference: number | null;
  energyPerMacJ: number;
  throughputMacsPerS: number;
  uplinkBps: number;
  energyPerBitJ: number;
  rttS: number;
}

export interface IrJson {
  format: "meanet-ir";
  version: 1;
  model: string;
  input: { name: string; dtype: DType; shape: number[]; tensor: number };
  labels: string[];
  objective: "energy" | "latency";
  tensors: IrJsonTensor[];
  nodes: IrJsonNode[];
  blocks: IrJsonBlock[];
  exits: IrJsonExit[];
  hardClasses: HardClassSelection;
  routing: { target: string; when: Condition | null; loc: string | null }[];
  devices: Record<DeviceRole, IrJsonDevice>;
  training: TrainingPlan;
  assertions: { metric: string; op: string; value: number; when: "compile" | "eval"; text: string; loc: string | null }[];
  /** The spec's `quantize` section (calibration of int8 partitions); absent when the spec has none. */
  quantize?: IrQuantize;
  partition: {
    crossing: { tensor: number; name: string; shape: number[]; bytes: number }[];
    auto: { block: string; chosen: number; candidates: unknown[] }[];
  };
}
