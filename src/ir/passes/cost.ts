import { DTYPE_BYTES, numElements, PRECISION_BYTES, type IrBlock, type IrGraph, type Shape } from "../graph.js";
import { lookupOp, type OpCost } from "../ops/index.js";
import { foldCandidates, nodeWeightBytes, weightBytes } from "../storage.js";
import type { BlockCost, Pass, PassContext } from "./pass.js";

/** Per-node params and MACs from each op's own cost rule. */
export const costNodes: Pass = {
  name: "costNodes",
  run(ctx) {
    ctx.results.nodeCost = ctx.ir.nodes.map((n) => {
      const out = ctx.shapes[n.output];
      const ins = n.inputs.map((i) => ctx.shapes[i]);
      if (!out || ins.some((s) => !s)) return { params: 0, macs: 0, buffers: 0 };
      return lookupOp(n.op)!.cost(ins as Shape[], out, n.attrs);
    });
  },
};

/** Bytes per element of a tensor on a device: the model input keeps its dtype, the rest take the device precision. */
export function elementBytes(ir: IrGraph, tensor: number, device: "edge" | "cloud"): number {
  return tensor === ir.input.tensor ? DTYPE_BYTES[ir.input.dtype] : PRECISION_BYTES[ir.devices[device].precision];
}

/**
 * Peak activation memory of running `nodes` in order: a tensor is live from its production (or from
 * the start, if read from outside) until its last use; tensors read later by other nodes stay live.
 */
export function peakActivationBytes(ctx: PassContext, nodes: number[], device: "edge" | "cloud", keepAlive: Set<number>): number {
  const { ir, shapes } = ctx;
  const lastUse = new Map<number, number>();
  const inside = new Set(nodes.map((n) => ir.nodes[n]!.output));
  nodes.forEach((id, step) => {
    for (const t of ir.nodes[id]!.inputs) lastUse.set(t, step);
  });
  const size = (t: number) => numElements(shapes[t] ?? []) * elementBytes(ir, t, device);
  let live = 0;
  const liveSet = new Set<number>();
  for (const t of lastUse.keys()) {
    if (!inside.has(t)) {
      liveSet.add(t);
      live += size(t);
    }
  }
  let peak = live;
  nodes.forEach((id, step) => {
    const node = ir.nodes[id]!;
    live += size(node.output);
    liveSet.add(node.output);
    peak = Math.max(peak, live);
    for (const t of node.inputs) {
      if (lastUse.get(t) === step && !keepAlive.has(t) && liveSet.delete(t)) live -= size(t);
    }
    if (!lastUse.has(node.output) && !keepAlive.has(node.output) && liveSet.delete(node.output)) live -= size(node.output);
  });
  return peak;
}

/** Tensors of a block that outlive it: exits and tensors other blocks read. */
export function escapingTensors(ir: IrGraph, block: IrBlock): Set<number> {
  const out = new Set<number>();
  for (const b of ir.blocks) for (const r of b.reads) if (r.from === block.name) out.add(r.tensor);
  for (const x of ir.exits) if (x.block === block.name) out.add(x.tensor);
  return out;
}

export function sumCost(costs: OpCost[], nodes: number[]): OpCost {
  const c = { params: 0, macs: 0, buffers: 0 };
  for (const n of nodes) {
    c.params += costs[n]!.params;
    c.macs += costs[n]!.macs;
    c.buffers += costs[n]!.buffers;
  }
  return c;
}

/** Per-block totals: params, MACs, weight bytes stored at the block's device precision, peak activations. */
export const costBlocks: Pass = {
  name: "costBlocks",
  run(ctx) {
    const costs = ctx.results.nodeCost!;
    const folds = foldCandidates(ctx.ir);
    ctx.results.blockCost = ctx.ir.blocks.map((b): BlockCost => {
      const device = b.placement === "cloud" ? "cloud" : "edge";
      const c = sumCost(costs, b.nodes);
      return {
        name: b.name,
        placement: b.placement,
        device,
        nodes: b.nodes.length,
        params: c.params,
        buffers: c.buffers,
        macs: c.macs,
        weightBytes: weightBytes(ctx.ir, costs, b.nodes, ctx.ir.devices[device].precision, folds),
        peakActivationBytes: peakActivationBytes(ctx, b.nodes, device, escapingTensors(ctx.ir, b)),
      };
    });
  },
};

/** Each node's weight bytes as its device's file stores them, after the partition. */
export const weighNodes: Pass = {
  name: "weighNodes",
  run(ctx) {
    const { ir } = ctx;
    const dev = ctx.results.partition!.nodeDevice;
    const bytes = new Array<number>(ir.nodes.length).fill(0);
    const folds = foldCandidates(ir);
    for (const side of ["edge", "cloud"] as const) {
      const nodes = ir.nodes.filter((n) => dev[n.id] === side).map((n) => n.id);
      for (const [n, b] of nodeWeightBytes(ir, ctx.results.nodeCost!, nodes, ir.devices[side].precision, folds)) bytes[n] = b;
    }
    ctx.results.nodeWeightBytes = bytes;
  },
};
