/**
 * Which ONNX file holds which IR nodes. Exits are taken in the order the router needs them (exits
 * the routing conditions read, then route targets, then the rest); each exit's edge nodes not
 * already placed form `edge/<exit>.onnx`, and every cloud node goes to `cloud/model.onnx`. For the
 * MEANet layout this gives edge/main.onnx, edge/extension.onnx and cloud/model.onnx; an `auto`
 * block cut in two puts its edge half in the file of the exit it leads to.
 */
import type { Condition } from "../../ir/index.js";
import type { IrJson } from "../../format/ir.js";
import type { PartitionIo, PartitionPlan } from "../../format/manifest.js";
import { linkDtype } from "../../format/quantize.js";

/** Exits in the order a router evaluates them. */
export function exitOrder(ir: IrJson): string[] {
  const order: string[] = [];
  const add = (e: string) => {
    if (!order.includes(e) && ir.exits.some((x) => x.name === e)) order.push(e);
  };
  const visit = (c: Condition | null | undefined): void => {
    if (!c) return;
    switch (c.kind) {
      case "threshold":
        return add(c.measure.exit);
      case "versus":
        add(c.left.exit);
        return add(c.right.exit);
      case "argmax_in":
        return add(c.exit);
      case "not":
        return visit(c.operand);
      default:
        visit(c.left);
        return visit(c.right);
    }
  };
  for (const r of ir.routing) visit(r.when);
  for (const r of ir.routing) add(r.target);
  for (const x of ir.exits) add(x.name);
  return order;
}

/** The nodes an exit's tensor depends on, in id order. */
function closure(ir: IrJson, tensor: number): number[] {
  const need = new Set<number>();
  const stack = [tensor];
  while (stack.length) {
    const t = stack.pop()!;
    const p = ir.tensors[t]!.producer;
    if (p < 0 || need.has(p)) continue;
    need.add(p);
    stack.push(...ir.nodes[p]!.inputs);
  }
  return [...need].sort((a, b) => a - b);
}

/** How a tensor crossing files is named: `block.name` when the spec exports it, else its IR name. */
export function ioName(ir: IrJson, tensor: number): string {
  if (tensor === ir.input.tensor) return ir.input.name;
  const t = ir.tensors[tensor]!;
  const block = ir.blocks.find((b) => b.name === t.block);
  const exported = block && Object.entries(block.exports).find(([, id]) => id === tensor);
  return exported ? `${block.name}.${exported[0]}` : t.name;
}

export function probsName(exit: string): string {
  return `probs_${exit}`;
}

function tensorIo(ir: IrJson, tensor: number): PartitionIo {
  if (tensor === ir.input.tensor) return { name: ir.input.name, tensor, dtype: ir.input.dtype, shape: ir.input.shape, layout: "NHWC", exit: null };
  const shape = ir.tensors[tensor]!.shape;
  return { name: ioName(ir, tensor), tensor, dtype: "float32", shape, layout: shape.length === 3 ? "NHWC" : "NC", exit: null };
}

/** The files of the export and what each takes and gives. Pure; the manifest records the result. */
export function planPartitions(ir: IrJson): PartitionPlan[] {
  const owner = new Map<number, string>();
  const plans: PartitionPlan[] = [];
  const cloud: PartitionPlan = { name: "cloud", device: "cloud", path: "cloud/model.onnx", nodes: [], exits: [], inputs: [], outputs: [] };
  for (const exitName of exitOrder(ir)) {
    const exit = ir.exits.find((x) => x.name === exitName)!;
    const fresh = closure(ir, exit.tensor).filter((n) => !owner.has(n));
    const edgeNodes = fresh.filter((n) => ir.nodes[n]!.device === "edge");
    const cloudNodes = fresh.filter((n) => ir.nodes[n]!.device === "cloud");
    const exitDevice = ir.nodes[ir.tensors[exit.tensor]!.producer]!.device;
    if (edgeNodes.length) {
      // The edge half of a cloud exit named like the cloud file still needs a name of its own.
      const name = exitName === cloud.name ? `${exitName}_edge` : exitName;
      const plan: PartitionPlan = { name, device: "edge", path: `edge/${exitName}.onnx`, nodes: edgeNodes, exits: exitDevice === "edge" ? [exitName] : [], inputs: [], outputs: [] };
      for (const n of edgeNodes) owner.set(n, plan.path);
      plans.push(plan);
    }
    for (const n of cloudNodes) owner.set(n, cloud.path);
    cloud.nodes.push(...cloudNodes);
    if (exitDevice === "cloud") cloud.exits.push(exitName);
  }
  cloud.nodes.sort((a, b) => a - b);
  if (cloud.nodes.length) plans.push(cloud);
  for (const plan of plans) wireUp(ir, plan, owner);
  return plans;
}

/** Inputs: tensors read here but made elsewhere. Outputs: exit probabilities, then tensors other files read. */
function wireUp(ir: IrJson, plan: PartitionPlan, owner: Map<number, string>): void {
  const inside = new Set(plan.nodes);
  const ins = new Set<number>();
  for (const n of plan.nodes) {
    for (const t of ir.nodes[n]!.inputs) {
      const p = ir.tensors[t]!.producer;
      if (p < 0 || !inside.has(p)) ins.add(t);
    }
  }
  plan.inputs = [...ins].sort((a, b) => a - b).map((t) => linkIo(ir, owner, t));
  const outs = new Set<number>();
  for (const node of ir.nodes) {
    const o = owner.get(node.id);
    if (o === undefined || o === plan.path) continue;
    for (const t of node.inputs) if (inside.has(ir.tensors[t]!.producer)) outs.add(t);
  }
  plan.outputs = [
    ...plan.exits.map((e): PartitionIo => {
      const x = ir.exits.find((y) => y.name === e)!;
      return { name: probsName(e), tensor: x.tensor, dtype: "float32", shape: ir.tensors[x.tensor]!.shape, layout: "NC", exit: e };
    }),
    ...[...outs].sort((a, b) => a - b).map((t) => linkIo(ir, owner, t)),
  ];
}

/**
 * A tensor at a file boundary. One an edge file sends to a cloud file crosses the link at the
 * edge's precision: from an int8 edge as uint8 (export adds its calibrated scale and zero point),
 * from an fp16 edge as float16. Every file that reads it, an edge file too, takes it so.
 */
function linkIo(ir: IrJson, owner: Map<number, string>, tensor: number): PartitionIo {
  const io = tensorIo(ir, tensor);
  if (tensor === ir.input.tensor) return io;
  const producer = ir.nodes[ir.tensors[tensor]!.producer]!;
  const readByCloud = ir.nodes.some((n) => n.device === "cloud" && n.inputs.includes(tensor) && owner.get(n.id) !== undefined);
  const dtype = linkDtype(ir.devices.edge.precision);
  return producer.device === "edge" && readByCloud && dtype !== "float32" ? { ...io, dtype } : io;
}
