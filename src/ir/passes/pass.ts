import type { DiagnosticBag } from "../../diagnostics/index.js";
import type { IrGraph, Shape } from "../graph.js";
import type { OpCost } from "../ops/index.js";
import type { DeferralCost } from "./deferralCost.js";

export interface BlockCost {
  name: string;
  placement: string;
  /** The device whose precision sized the weights and activations. */
  device: "edge" | "cloud";
  nodes: number;
  params: number;
  buffers: number;
  macs: number;
  weightBytes: number;
  peakActivationBytes: number;
}

export interface CutCandidate {
  /** Nodes of the auto block kept on the edge. */
  edgeNodes: number;
  after: string;
  edgeMacs: number;
  cloudMacs: number;
  bytesSent: number;
  energyJ: number;
  latencyS: number;
  feasible: boolean;
  reason?: string;
}

export interface AutoPartition {
  block: string;
  candidates: CutCandidate[];
  chosen: number;
}

export interface LinkTensor {
  tensor: number;
  name: string;
  shape: Shape;
  bytes: number;
}

export interface Partition {
  /** Device of every node, by node id. */
  nodeDevice: ("edge" | "cloud")[];
  crossing: LinkTensor[];
  auto: AutoPartition[];
}

export interface RouteCost {
  exit: string;
  blocks: string[];
  /** The learned deferral model runs on the edge too (its MACs are in `edgeMacs`). */
  deferral: boolean;
  edgeMacs: number;
  cloudMacs: number;
  bytesSent: number;
  /** Edge-device energy: MAC energy on the edge plus transmission energy. */
  energyJ: number;
  cloudEnergyJ: number;
  latencyS: number;
}

export interface DeviceTotals {
  params: number;
  macs: number;
  weightBytes: number;
  peakActivationBytes: number;
}

/** Side tables written by passes; the IR itself stays as lowering made it. */
export interface PassResults {
  nodeCost?: OpCost[];
  /** Each node's weight bytes in its device's file, by node id (after the partition). */
  nodeWeightBytes?: number[];
  blockCost?: BlockCost[];
  partition?: Partition;
  deviceTotals?: { edge: DeviceTotals; cloud: DeviceTotals; total: DeviceTotals };
  routes?: RouteCost[];
  /** What the learned deferral model costs the edge, when a rule reads `defer(…)`. */
  deferral?: DeferralCost;
}

export interface PassContext {
  ir: IrGraph;
  shapes: (Shape | undefined)[];
  bag: DiagnosticBag;
  results: PassResults;
}

export interface Pass {
  name: string;
  run(ctx: PassContext): void;
}
