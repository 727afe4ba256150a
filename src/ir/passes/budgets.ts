import { Codes } from "../../diagnostics/index.js";
import { escapingTensors, peakActivationBytes } from "./cost.js";
import type { DeviceTotals, Pass } from "./pass.js";
import { deferralCost } from "./deferralCost.js";

const MiB = 1024 * 1024;

export function formatBytes(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

/** Totals per device after partition: what the edge must store and run. */
export const totalByDevice: Pass = {
  name: "totalByDevice",
  run(ctx) {
    const { ir } = ctx;
    const costs = ctx.results.nodeCost!;
    const dev = ctx.results.partition!.nodeDevice;
    const totals = (side: "edge" | "cloud"): DeviceTotals => {
      const nodes = ir.nodes.filter((n) => dev[n.id] === side);
      const params = nodes.reduce((s, n) => s + costs[n.id]!.params, 0);
      const macs = nodes.reduce((s, n) => s + costs[n.id]!.macs, 0);
      const weightBytes = nodes.reduce((s, n) => s + ctx.results.nodeWeightBytes![n.id]!, 0);
      // Blocks run one after another, so the device's peak is the largest block peak on it.
      let peak = 0;
      for (const b of ir.blocks) {
        const mine = b.nodes.filter((n) => dev[n] === side);
        if (mine.length) peak = Math.max(peak, peakActivationBytes(ctx, mine, side, escapingTensors(ir, b)));
      }
      return { params, macs, weightBytes, peakActivationBytes: peak };
    };
    const deferral = deferralCost(ctx);
    if (deferral) ctx.results.deferral = deferral;
    const onEdge = totals("edge");
    // The deferral model is stored and run on the edge beside the blocks.
    const edge = deferral ? { ...onEdge, params: onEdge.params + deferral.params, macs: onEdge.macs + deferral.macs, weightBytes: onEdge.weightBytes + deferral.weightBytes } : onEdge;
    const cloud = totals("cloud");
    // The whole model: each side's weights at its own precision; the larger of the two peaks.
    const total = { params: edge.params + cloud.params, macs: edge.macs + cloud.macs, weightBytes: edge.weightBytes + cloud.weightBytes, peakActivationBytes: Math.max(edge.peakActivationBytes, cloud.peakActivationBytes) };
    ctx.results.deviceTotals = { edge, cloud, total };
  },
};

/** Each device's budgets: weight memory, peak activation memory, and MACs of the costliest route on that device. */
export const checkBudgets: Pass = {
  name: "checkBudgets",
  run(ctx) {
    for (const side of ["edge", "cloud"] as const) checkDevice(ctx, side);
  },
};

/**
 * Each block's share of a device by `key`: the whole block when all its nodes run there; for a block
 * `on auto` split by its cut, its nodes on that side (weights and MACs; its peak activations are not
 * split, so such a block is left out of that comparison); nothing for a block with no node there.
 */
function blocksOn(ctx: Parameters<Pass["run"]>[0], side: "edge" | "cloud", key: "weightBytes" | "peakActivationBytes" | "macs") {
  const { ir, results } = ctx;
  const device = results.partition!.nodeDevice;
  return ir.blocks.flatMap((block) => {
    const cost = results.blockCost!.find((b) => b.name === block.name);
    const here = block.nodes.filter((n) => device[n] === side);
    if (!cost || here.length === 0) return [];
    if (here.length === block.nodes.length) return [{ block, value: cost[key], part: false }];
    if (key === "peakActivationBytes") return [];
    const value = here.reduce((t, n) => t + (key === "macs" ? results.nodeCost![n]!.macs : results.nodeWeightBytes![n]!), 0);
    return [{ block, value, part: true }];
  });
}

function checkDevice(ctx: Parameters<Pass["run"]>[0], side: "edge" | "cloud"): void {
  const { ir, bag } = ctx;
  const dev = ir.devices[side];
  const t = ctx.results.deviceTotals![side];
  const related = (key: "weightBytes" | "peakActivationBytes" | "macs", fmt: (n: number) => string) => {
    const b = blocksOn(ctx, side, key).sort((x, y) => y.value - x.value)[0];
    return b ? [{ message: `largest: block \`${b.block.name}\` with ${fmt(b.value)}${b.part ? ` (its part on the ${side})` : ""}`, span: b.block.span }] : [];
  };
  if (dev.weightMemoryBytes !== undefined && t.weightBytes > dev.weightMemoryBytes) {
    bag.error(Codes.WeightBudget, `${side} weights need ${formatBytes(t.weightBytes)} (${t.params} params stored at ${dev.precision}), over the ${formatBytes(dev.weightMemoryBytes)} budget`, dev.spans.weightMemoryBytes ?? dev.span, {
      related: related("weightBytes", formatBytes),
      hint: side === "edge" ? "shrink the edge blocks, lower the precision, or move a block to the cloud" : "shrink the cloud blocks or lower the cloud precision",
    });
  }
  if (dev.activationMemoryBytes !== undefined && t.peakActivationBytes > dev.activationMemoryBytes) {
    bag.error(Codes.ActivationBudget, `${side} peak activation memory is ${formatBytes(t.peakActivationBytes)}, over the ${formatBytes(dev.activationMemoryBytes)} budget`, dev.spans.activationMemoryBytes ?? dev.span, {
      related: related("peakActivationBytes", formatBytes),
      hint: "downsample earlier or use fewer channels at high resolution",
    });
  }
  const macsOf = (r: NonNullable<typeof ctx.results.routes>[number]) => (side === "edge" ? r.edgeMacs : r.cloudMacs);
  const worst = Math.max(0, ...(ctx.results.routes ?? []).map(macsOf));
  if (dev.macsPerInference !== undefined && worst > dev.macsPerInference) {
    const route = ctx.results.routes!.find((r) => macsOf(r) === worst)!;
    bag.error(Codes.MacBudget, `the route to exit \`${route.exit}\` runs ${formatCount(worst)} MACs on the ${side}, over the ${formatCount(dev.macsPerInference)} budget`, dev.spans.macsPerInference ?? dev.span, {
      related: related("macs", formatCount),
      hint: side === "edge" ? "use fewer channels or downsample earlier in the blocks on that route, or place a block `on cloud` or `on auto`" : "use fewer channels or layers in the cloud blocks",
    });
  }
}
