import { location, type Span } from "../diagnostics/index.js";
import type { IrGraph, Shape } from "./graph.js";
import type { PassResults } from "./passes/pass.js";

/** `file:line:col` of a span, as stored in ir.json. */
function loc(span: Span | undefined): string | null {
  if (!span) return null;
  const l = location(span);
  return `${l.file}:${l.line}:${l.column}`;
}

/**
 * The IR as plain JSON: spans become `file:line:col`, shapes and costs are inlined per tensor and node.
 * Key order is fixed by construction, so the same spec always serialises to the same bytes.
 */
export function serializeIr(ir: IrGraph, shapes: (Shape | undefined)[], results: PassResults): unknown {
  const cost = results.nodeCost;
  const dev = results.partition?.nodeDevice;
  return {
    format: "meanet-ir",
    version: 1,
    model: ir.model,
    input: { name: ir.input.name, dtype: ir.input.dtype, shape: ir.input.shape, tensor: ir.input.tensor },
    labels: ir.labels,
    objective: ir.objective,
    tensors: ir.tensors.map((t) => ({ id: t.id, name: t.name, block: t.block, producer: t.producer, shape: shapes[t.id] ?? null, loc: loc(t.span) })),
    nodes: ir.nodes.map((n) => ({
      id: n.id,
      name: n.name,
      op: n.op,
      block: n.block,
      device: dev?.[n.id] ?? null,
      inputs: n.inputs,
      output: n.output,
      attrs: n.attrs,
      params: cost?.[n.id]?.params ?? null,
      macs: cost?.[n.id]?.macs ?? null,
      loc: loc(n.span),
    })),
    blocks: ir.blocks.map((b) => ({ name: b.name, placement: b.placement, nodes: b.nodes, reads: b.reads, exports: b.exports, loc: loc(b.span) })),
    exits: ir.exits.map((x) => ({ name: x.name, block: x.block, tensor: x.tensor, classes: x.classes, loc: loc(x.span) })),
    hardClasses: ir.hardClasses,
    routing: ir.routing.map((r) => ({ target: r.target, when: r.when ?? null, loc: loc(r.span) })),
    devices: Object.fromEntries(
      (["edge", "cloud"] as const).map((role) => {
        const { spans: _spans, span: _span, ...rest } = ir.devices[role];
        return [role, { ...rest, weightMemoryBytes: rest.weightMemoryBytes ?? null, activationMemoryBytes: rest.activationMemoryBytes ?? null, macsPerInference: rest.macsPerInference ?? null }];
      }),
    ),
    training: ir.training,
    assertions: ir.assertions.map((a) => ({ metric: a.metric, op: a.op, value: a.value, when: a.when, text: a.text, loc: loc(a.span) })),
    partition: results.partition ? { crossing: results.partition.crossing, auto: results.partition.auto } : null,
  };
}
