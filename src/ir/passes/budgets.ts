import { Codes } from "../../diagnostics/index.js";
import { PRECISION_BYTES } from "../graph.js";
import { escapingTensors, peakActivationBytes } from "./cost.js";
import type { DeviceTotals, Pass } from "./pass.js";

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
      const precision = ir.devices[side].precision;
      // Blocks run one after another, so the device's peak is the largest block peak on it.
      let peak = 0;
      for (const b of ir.blocks) {
        const mine = b.nodes.filter((n) => dev[n] === side);
        if (mine.length) peak = Math.max(peak, peakActivationBytes(ctx, mine, side, escapingTensors(ir, b)));
      }
      return { params, macs, weightBytes: params * PRECISION_BYTES[precision], peakActivationBytes: peak };
    };
    const edge = totals("edge");
    const cloud = totals("cloud");
    // The whole model: each side's weights at its own precision; the larger of the two peaks.
    const total = { params: edge.params + cloud.params, macs: edge.macs + cloud.macs, weightBytes: edge.weightBytes + cloud.weightBytes, peakActivationBytes: Math.max(edge.peakActivationBytes, cloud.peakActivationBytes) };
    ctx.results.deviceTotals = { edge, cloud, total };
  },
};

/** The edge budgets: weight memory, peak activation memory, and MACs of the costliest route on the edge. */
export const checkBudgets: Pass = {
  name: "checkBudgets",
  run(ctx) {
    const { ir, bag } = ctx;
    const edge = ir.devices.edge;
    const t = ctx.results.deviceTotals!.edge;
    const blocks = (ctx.results.blockCost ?? []).filter((b) => b.device === "edge");
    const biggest = (key: "weightBytes" | "peakActivationBytes" | "macs") => [...blocks].sort((a, b) => b[key] - a[key])[0];
    const related = (key: "weightBytes" | "peakActivationBytes" | "macs", fmt: (n: number) => string) => {
      const b = biggest(key);
      const blk = b && ir.blocks.find((x) => x.name === b.name);
      return blk ? [{ message: `largest: block \`${b!.name}\` with ${fmt(b![key])}`, span: blk.span }] : [];
    };
    if (edge.weightMemoryBytes !== undefined && t.weightBytes > edge.weightMemoryBytes) {
      bag.error(Codes.WeightBudget, `edge weights need ${formatBytes(t.weightBytes)} (${t.params} params at ${edge.precision}), over the ${formatBytes(edge.weightMemoryBytes)} budget`, edge.spans.weightMemoryBytes ?? edge.span, {
        related: related("weightBytes", formatBytes),
        hint: "shrink the edge blocks, lower the precision, or move a block to the cloud",
      });
    }
    if (edge.activationMemoryBytes !== undefined && t.peakActivationBytes > edge.activationMemoryBytes) {
      bag.error(Codes.ActivationBudget, `edge peak activation memory is ${formatBytes(t.peakActivationBytes)}, over the ${formatBytes(edge.activationMemoryBytes)} budget`, edge.spans.activationMemoryBytes ?? edge.span, {
        related: related("peakActivationBytes", formatBytes),
        hint: "downsample earlier or use fewer channels at high resolution",
      });
    }
    const worst = Math.max(0, ...(ctx.results.routes ?? []).map((r) => r.edgeMacs));
    if (edge.macsPerInference !== undefined && worst > edge.macsPerInference) {
      const route = ctx.results.routes!.find((r) => r.edgeMacs === worst)!;
      bag.error(Codes.MacBudget, `the route to exit \`${route.exit}\` runs ${formatCount(worst)} MACs on the edge, over the ${formatCount(edge.macsPerInference)} budget`, edge.spans.macsPerInference ?? edge.span, {
        related: related("macs", formatCount),
        hint: "use fewer channels or downsample earlier in the blocks on that route, or place a block `on cloud` or `on auto`",
      });
    }
  },
};
