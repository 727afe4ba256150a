import type { BlockCost, IrGraph, PassResults, RouteCost } from "../ir/index.js";
import type { IrJson } from "../format/ir.js";

/** The cost summary shared by `meanet inspect --json`, the text table and report.md. */
export interface CostSummary {
  model: string;
  input: { name: string; dtype: string; shape: number[] };
  classes: number;
  hardClasses: number;
  objective: string;
  blocks: { name: string; device: string; placement: string; params: number; macs: number; weightBytes: number; peakActivationBytes: number }[];
  devices: { name: "edge" | "cloud"; preset: string | null; precision: string; params: number; macs: number; weightBytes: number; peakActivationBytes: number; budgets: { weightMemoryBytes: number | null; activationMemoryBytes: number | null; macsPerInference: number | null } }[];
  /** The learned deferral model, on the edge beside the blocks; absent when no rule reads `defer(…)`. In the edge's and the total figures. */
  deferral?: { exits: string[]; params: number; macs: number; weightBytes: number };
  total: { params: number; macs: number };
  routes: { exit: string; blocks: string[]; deferral?: true; edgeMacs: number; cloudMacs: number; bytesSent: number; energyJ: number; latencyS: number }[];
  crossing: { name: string; shape: number[]; bytes: number }[];
  autoCuts: { block: string; chosen: number; candidates: { after: string; edgeMacs: number; cloudMacs: number; bytesSent: number; energyJ: number; latencyS: number; feasible: boolean; reason: string | null }[] }[];
}

/** Requires the passes to have run (no errors). */
export function summarize(ir: IrGraph, results: PassResults): CostSummary {
  const blockCost = results.blockCost as BlockCost[];
  const totals = results.deviceTotals!;
  return {
    model: ir.model,
    input: { name: ir.input.name, dtype: ir.input.dtype, shape: ir.input.shape },
    classes: ir.labels.length,
    hardClasses: ir.hardClasses.count,
    objective: ir.objective,
    blocks: blockCost.map((b) => ({
      name: b.name,
      device: b.placement === "auto" ? "auto" : b.device,
      placement: b.placement,
      params: b.params,
      macs: b.macs,
      weightBytes: b.weightBytes,
      peakActivationBytes: b.peakActivationBytes,
    })),
    devices: (["edge", "cloud"] as const).map((name) => {
      const d = ir.devices[name];
      const t = totals[name];
      return {
        name,
        preset: d.preset ?? null,
        precision: d.precision,
        ...t,
        budgets: { weightMemoryBytes: d.weightMemoryBytes ?? null, activationMemoryBytes: d.activationMemoryBytes ?? null, macsPerInference: d.macsPerInference ?? null },
      };
    }),
    ...(results.deferral ? { deferral: results.deferral } : {}),
    total: { params: totals.total.params, macs: totals.total.macs },
    routes: (results.routes as RouteCost[]).map((r) => ({ exit: r.exit, blocks: r.blocks, ...(r.deferral ? { deferral: true as const } : {}), edgeMacs: r.edgeMacs, cloudMacs: r.cloudMacs, bytesSent: r.bytesSent, energyJ: r.energyJ, latencyS: r.latencyS })),
    crossing: results.partition!.crossing.map((t) => ({ name: t.name, shape: t.shape, bytes: t.bytes })),
    autoCuts: results.partition!.auto.map((a) => ({
      block: a.block,
      chosen: a.chosen,
      candidates: a.candidates.map((c) => ({ after: c.after, edgeMacs: c.edgeMacs, cloudMacs: c.cloudMacs, bytesSent: c.bytesSent, energyJ: c.energyJ, latencyS: c.latencyS, feasible: c.feasible, reason: c.reason ?? null })),
    })),
  };
}

/** One layer (IR node) as `meanet inspect --layers` lists it. */
export interface LayerRow {
  name: string;
  op: string;
  /** The output shape without the batch dimension. */
  shape: number[];
  params: number;
  macs: number;
  device: string;
  /** `file:line` of the layer in the spec (or in the imported file its def comes from). */
  source: string | null;
}

/** The layers of a graph in ir.json's node order, read from ir.json so that a spec and a build directory give the same rows. */
export function layerRows(ir: IrJson): LayerRow[] {
  const shapes = new Map(ir.tensors.map((t) => [t.id, t.shape]));
  return ir.nodes.map((n) => ({
    name: n.name,
    op: n.op,
    shape: shapes.get(n.output)!,
    params: n.params,
    macs: n.macs,
    device: n.device,
    source: n.loc === null ? null : n.loc.replace(/:\d+$/, ""),
  }));
}
