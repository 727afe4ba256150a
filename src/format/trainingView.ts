/**
 * What training reads from ir.json: the key of `meanet build`'s train stage and the fingerprint of
 * a training checkpoint. What it leaves out can change without training again.
 */
import type { Condition } from "./conditions.js";
import { deferralRead, exitOnEdge } from "./defer.js";
import type { IrJson } from "./ir.js";

/**
 * What the deferral stage reads beyond the blocks: the exits `defer(…)` names and the cloud exit
 * of its rule, and the rules that give the edge's own answer (those that do not lead to a cloud
 * exit), whole. The cloud rules' thresholds are left out: the stage never evaluates them.
 */
export function deferralView(ir: IrJson): unknown {
  const onCloud = (exit: string) => !exitOnEdge(ir, exit);
  const rules = ir.routing as { target: string; when: Condition | null }[];
  return { read: deferralRead(ir.routing) ?? null, edgeRules: rules.filter((r) => !onCloud(r.target)), cloudTargets: rules.filter((r) => onCloud(r.target)).map((r) => r.target) };
}

/**
 * What training reads from the IR: the blocks' graphs (node names, ops, attributes and wiring,
 * which name the weights), exits, labels, the hard-class selection and the training plan.
 * Source locations, costs, devices, routing and assertions are left out, so editing an
 * assertion, a routing threshold or a comment does not retrain. A deferral stage also reads what
 * its examples come from (`deferralView`).
 */
export function trainingView(ir: IrJson): unknown {
  const tensor = (id: number) => {
    const t = ir.tensors[id]!;
    return [t.name, t.block, t.shape];
  };
  return {
    input: [ir.input.name, ir.input.dtype, ir.input.shape],
    labels: ir.labels,
    blocks: ir.blocks.map((b) => ({
      name: b.name,
      nodes: b.nodes.map((id) => {
        const n = ir.nodes[id]!;
        return [n.name, n.op, n.attrs, n.inputs.map(tensor), tensor(n.output)];
      }),
      reads: b.reads.map((r) => [tensor(r.tensor), r.from, r.gradient]),
      exports: Object.entries(b.exports).map(([name, id]) => [name, tensor(id)]),
    })),
    exits: ir.exits.map((x) => [x.name, x.block, tensor(x.tensor), x.classes]),
    hardClasses: ir.hardClasses,
    training: ir.training,
    ...(ir.training.stages.some((s) => s.defer) ? { deferral: deferralView(ir) } : {}),
  };
}
