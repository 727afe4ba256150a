import type { Condition, IrGraph } from "../graph.js";
import { measureExits } from "../../format/conditions.js";
import { defersIn } from "../../format/defer.js";
import { deferralCost } from "./deferralCost.js";
import type { OpCost } from "../ops/index.js";
import type { Pass, PassContext, RouteCost } from "./pass.js";

function exitsIn(c: Condition | undefined, out: Set<string>): void {
  if (!c) return;
  switch (c.kind) {
    case "threshold":
      for (const x of measureExits(c.measure)) out.add(x);
      break;
    case "versus":
      for (const x of [...measureExits(c.left), ...measureExits(c.right)]) out.add(x);
      break;
    case "argmax_in":
      out.add(c.exit);
      break;
    case "not":
      exitsIn(c.operand, out);
      break;
    default:
      exitsIn(c.left, out);
      exitsIn(c.right, out);
  }
}

/** Blocks needed to produce the given exits, following the tensors blocks read. */
export function requiredBlocks(ir: IrGraph, exits: Iterable<string>): string[] {
  const need = new Set<string>();
  const stack = [...exits].map((e) => ir.exits.find((x) => x.name === e)?.block).filter((b): b is string => !!b);
  while (stack.length) {
    const b = stack.pop()!;
    if (need.has(b)) continue;
    need.add(b);
    for (const r of ir.blocks.find((x) => x.name === b)?.reads ?? []) stack.push(r.from);
  }
  return ir.blocks.filter((b) => need.has(b.name)).map((b) => b.name);
}

/** An input that leaves at `exit` runs `blocks`: those of the exits consulted on the way, and the blocks they read. */
export interface RoutePlan {
  exit: string;
  blocks: string[];
  /** The rules consulted on the way read `defer(…)`: the deferral model runs too. */
  defer: boolean;
}

/**
 * The blocks of each route: an input reaching exit E has run every exit the routing rules consulted
 * on the way (rules are tried in order) and E itself. Independent of where the nodes are placed.
 */
export function planRoutes(ir: IrGraph): RoutePlan[] {
  return ir.exits.map((x) => {
    const consulted = new Set<string>([x.name]);
    let defer = false;
    for (const rule of ir.routing) {
      exitsIn(rule.when, consulted);
      if (defersIn(rule.when).length) defer = true;
      if (rule.target === x.name) break;
    }
    return { exit: x.name, blocks: requiredBlocks(ir, consulted), defer };
  });
}

/** MACs a route runs on each device, with the nodes placed as `nodeDevice` says. */
export function routeMacs(ir: IrGraph, costs: OpCost[], nodeDevice: readonly ("edge" | "cloud")[], route: RoutePlan): { edgeMacs: number; cloudMacs: number } {
  let edgeMacs = 0;
  let cloudMacs = 0;
  for (const b of route.blocks) {
    for (const n of ir.blocks.find((x) => x.name === b)!.nodes) {
      if (nodeDevice[n] === "edge") edgeMacs += costs[n]!.macs;
      else cloudMacs += costs[n]!.macs;
    }
  }
  return { edgeMacs, cloudMacs };
}

/** Cost of each route: MACs on each side, bytes sent, edge energy, latency. */
export const costRoutes: Pass = {
  name: "costRoutes",
  run(ctx: PassContext) {
    const { ir } = ctx;
    const costs = ctx.results.nodeCost!;
    const part = ctx.results.partition!;
    const edge = ir.devices.edge;
    const cloud = ir.devices.cloud;
    const routes: RouteCost[] = [];
    const deferral = deferralCost(ctx);
    for (const plan of planRoutes(ir)) {
      const { blocks } = plan;
      const nodes = ir.nodes.filter((n) => blocks.includes(n.block));
      const macs = routeMacs(ir, costs, part.nodeDevice, plan);
      const edgeMacs = macs.edgeMacs + (plan.defer && deferral ? deferral.macs : 0);
      const { cloudMacs } = macs;
      const ids = new Set(nodes.map((n) => n.id));
      const sent = part.crossing.filter((t) => nodes.some((n) => ids.has(n.id) && part.nodeDevice[n.id] === "cloud" && n.inputs.includes(t.tensor)));
      const bytesSent = sent.reduce((s, t) => s + t.bytes, 0);
      const bits = bytesSent * 8;
      routes.push({
        exit: plan.exit,
        blocks,
        deferral: plan.defer && !!deferral,
        edgeMacs,
        cloudMacs,
        bytesSent,
        energyJ: edgeMacs * edge.energyPerMacJ + bits * edge.energyPerBitJ,
        cloudEnergyJ: cloudMacs * cloud.energyPerMacJ,
        latencyS: edgeMacs / edge.throughputMacsPerS + (cloudMacs > 0 || bits > 0 ? bits / edge.uplinkBps + edge.rttS + cloudMacs / cloud.throughputMacsPerS : 0),
      });
    }
    ctx.results.routes = routes;
  },
};
