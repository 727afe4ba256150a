import { Codes } from "../../diagnostics/index.js";
import { numElements, type IrBlock, type IrGraph } from "../graph.js";
import { foldCandidates, weightBytes } from "../storage.js";
import { elementBytes, escapingTensors, peakActivationBytes, sumCost } from "./cost.js";
import type { AutoPartition, CutCandidate, LinkTensor, Pass, PassContext } from "./pass.js";
import { planRoutes, routeMacs } from "./routeCosts.js";

/** Tensors produced on the edge (or the model input) and read by nodes on the cloud. */
export function crossingTensors(ctx: PassContext, nodeDevice: ("edge" | "cloud")[], only?: Set<number>): LinkTensor[] {
  const { ir, shapes } = ctx;
  const seen = new Set<number>();
  const out: LinkTensor[] = [];
  for (const n of ir.nodes) {
    if (nodeDevice[n.id] !== "cloud" || (only && !only.has(n.id))) continue;
    for (const t of n.inputs) {
      const producer = ir.tensors[t]!.producer;
      const fromEdge = producer < 0 || nodeDevice[producer] === "edge";
      if (!fromEdge || seen.has(t)) continue;
      seen.add(t);
      const shape = shapes[t] ?? [];
      out.push({ tensor: t, name: ir.tensors[t]!.name, shape, bytes: numElements(shape) * elementBytes(ir, t, "edge") });
    }
  }
  return out.sort((a, b) => a.tensor - b.tensor);
}

/**
 * Places every node. Blocks on `edge` or `cloud` stay whole; a chain block `on auto` is cut where
 * the spec's objective (edge energy or end-to-end latency) is lowest within the edge budgets, as in
 * Neurosurgeon (Kang et al., ASPLOS 2017); every candidate cut is kept for the report.
 */
export const partitionByDevice: Pass = {
  name: "partitionByDevice",
  run(ctx) {
    const { ir } = ctx;
    const nodeDevice: ("edge" | "cloud")[] = ir.nodes.map((n) => (blockOf(ir, n.block).placement === "cloud" ? "cloud" : "edge"));
    const auto: AutoPartition[] = [];
    for (const b of ir.blocks) {
      if (b.placement !== "auto") continue;
      const p = chooseCut(ctx, b, nodeDevice);
      auto.push(p);
      b.nodes.forEach((n, i) => (nodeDevice[n] = i < p.candidates[p.chosen]!.edgeNodes ? "edge" : "cloud"));
    }
    ctx.results.partition = { nodeDevice, crossing: crossingTensors(ctx, nodeDevice), auto };
  },
};

function blockOf(ir: IrGraph, name: string): IrBlock {
  return ir.blocks.find((b) => b.name === name)!;
}

function chooseCut(ctx: PassContext, block: IrBlock, fixed: ("edge" | "cloud")[]): AutoPartition {
  const { ir } = ctx;
  const costs = ctx.results.nodeCost!;
  const edge = ir.devices.edge;
  const cloud = ir.devices.cloud;
  // Fixed edge load that every candidate shares.
  const fixedEdgeNodes = ir.nodes.filter((n) => n.block !== block.name && fixed[n.id] === "edge").map((n) => n.id);
  const folds = foldCandidates(ir);
  const fixedEdgeBytes = weightBytes(ir, costs, fixedEdgeNodes, edge.precision, folds);
  // The MAC budget holds for the costliest route, as MN4003 checks it after the partition.
  const routes = planRoutes(ir);
  const candidates: CutCandidate[] = [];
  const escaping = escapingTensors(ir, block);
  for (let k = 0; k <= block.nodes.length; k++) {
    const edgePart = block.nodes.slice(0, k);
    const cloudPart = block.nodes.slice(k);
    const e = sumCost(costs, edgePart);
    const c = sumCost(costs, cloudPart);
    const nodeDevice = [...fixed];
    block.nodes.forEach((n, i) => (nodeDevice[n] = i < k ? "edge" : "cloud"));
    const bytesSent = crossingTensors(ctx, nodeDevice, new Set(cloudPart)).reduce((s, t) => s + t.bytes, 0);
    const bits = bytesSent * 8;
    const energyJ = e.macs * edge.energyPerMacJ + bits * edge.energyPerBitJ;
    const latencyS = e.macs / edge.throughputMacsPerS + (bits > 0 ? bits / edge.uplinkBps + edge.rttS : 0) + c.macs / cloud.throughputMacsPerS;
    const weights = fixedEdgeBytes + weightBytes(ir, costs, edgePart, edge.precision, folds);
    const peak = k > 0 ? peakActivationBytes(ctx, edgePart, "edge", new Set([...escaping, ...(k < block.nodes.length ? [ir.nodes[block.nodes[k - 1]!]!.output] : [])])) : 0;
    let reason: string | undefined;
    if (edge.weightMemoryBytes !== undefined && weights > edge.weightMemoryBytes) reason = "edge weight memory";
    else if (edge.activationMemoryBytes !== undefined && peak > edge.activationMemoryBytes) reason = "edge activation memory";
    else if (edge.macsPerInference !== undefined && Math.max(0, ...routes.map((r) => routeMacs(ir, costs, nodeDevice, r).edgeMacs)) > edge.macsPerInference) reason = "edge MACs";
    const after = k === 0 ? "(input)" : ir.nodes[block.nodes[k - 1]!]!.name;
    candidates.push({ edgeNodes: k, after, edgeMacs: e.macs, cloudMacs: c.macs, bytesSent, energyJ, latencyS, feasible: reason === undefined, ...(reason ? { reason } : {}) });
  }
  const key = (c: CutCandidate) => (ir.objective === "latency" ? c.latencyS : c.energyJ);
  let chosen = -1;
  candidates.forEach((c, i) => {
    if (c.feasible && (chosen < 0 || key(c) < key(candidates[chosen]!))) chosen = i;
  });
  if (chosen < 0) {
    ctx.bag.error(Codes.NoFeasibleCut, `no cut of auto block \`${block.name}\` fits the edge budgets; even keeping it all on the cloud exceeds them`, block.span, {
      hint: "raise the edge budgets or move other blocks off the edge",
    });
    chosen = 0;
  }
  return { block: block.name, candidates, chosen };
}
