/** The typed format of ir.json: the serialised IR that runtime stages (training, export) read. */
import type { AttrValue, ClassSet, DeviceRole, DType, HardClassSelection, Placement, Precision, RouteRuleIr, TrainingPlan } from "../../ir/index.js";

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
  routing: (Omit<RouteRuleIr, "span" | "when"> & { when: RouteRuleIr["when"] | null; loc: string | null })[];
  devices: Record<DeviceRole, IrJsonDevice>;
  training: TrainingPlan;
  assertions: { metric: string; op: string; value: number; when: "compile" | "eval"; text: string; loc: string | null }[];
  partition: {
    crossing: { tensor: number; name: string; shape: number[]; bytes: number }[];
    auto: { block: string; chosen: number; candidates: unknown[] }[];
  };
}
