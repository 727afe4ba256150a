import { location, type Span } from "../diagnostics/index.js";
import type { IrGraph, PassResults, Shape } from "../ir/index.js";
import type { IrJson } from "../format/ir.js";

/** `file:line:col` of a span, as stored in ir.json. */
function loc(span: Span | undefined): string | null {
  if (!span) return null;
  const l = location(span);
  return `${l.file}:${l.line}:${l.column}`;
}

/**
 * The IR as plain JSON: spans become `file:line:col`, shapes and costs are inlined per tensor and node.
 * Key order is fixed by construction, so the same spec always serialises to the same bytes.
 * Requires a graph that passed every pass (no errors).
 */
export function emitIrJson(ir: IrGraph, shapes: (Shape | undefined)[], results: PassResults): IrJson {
  const cost = results.nodeCost!;
  const dev = results.partition!.nodeDevice;
  return {
    format: "meanet-ir" as const,
    version: 1 as const,
    model: ir.model,
    input: { name: ir.input.name, dtype: ir.input.dtype, shape: ir.input.shape, tensor: ir.input.tensor },
    labels: ir.labels,
    objective: ir.objective,
    tensors: ir.tensors.map((t) => ({ id: t.id, name: t.name, block: t.block, producer: t.producer, shape: shapes[t.id]!, loc: loc(t.span) })),
    nodes: ir.nodes.map((n) => ({
      id: n.id,
      name: n.name,
      op: n.op,
      block: n.block,
      device: dev[n.id]!,
      inputs: n.inputs,
      output: n.output,
      attrs: n.attrs,
      params: cost[n.id]!.params,
      macs: cost[n.id]!.macs,
      weightBytes: results.nodeWeightBytes![n.id]!,
      loc: loc(n.span),
    })),
    blocks: ir.blocks.map((b) => ({ name: b.name, placement: b.placement, nodes: b.nodes, reads: b.reads.map((r) => ({ tensor: r.tensor, from: r.from, gradient: r.gradient })), exports: b.exports, loc: loc(b.span) })),
    exits: ir.exits.map((x) => ({ name: x.name, block: x.block, tensor: x.tensor, classes: x.classes, loc: loc(x.span) })),
    hardClasses: ir.hardClasses,
    routing: ir.routing.map((r) => ({ target: r.target, when: r.when ?? null, loc: loc(r.span) })),
    devices: {
      edge: deviceJson(ir, "edge"),
      cloud: deviceJson(ir, "cloud"),
    },
    training: ir.training,
    assertions: ir.assertions.map((a) => ({ metric: a.metric, op: a.op, value: a.value, when: a.when, text: a.text, loc: loc(a.span) })),
    // Only a spec with a `quantize` section has the key, so other specs serialise as before.
    ...(ir.quantize ? { quantize: { method: ir.quantize.method, percentile: ir.quantize.percentile, images: ir.quantize.images, loc: loc(ir.quantize.span) } } : {}),
    partition: { crossing: results.partition!.crossing, auto: results.partition!.auto },
  };
}

export function deviceJson(ir: IrGraph, role: "edge" | "cloud"): IrJson["devices"]["edge"] {
  const d = ir.devices[role];
  return {
    role,
    preset: d.preset ?? null,
    precision: d.precision,
    weightMemoryBytes: d.weightMemoryBytes ?? null,
    activationMemoryBytes: d.activationMemoryBytes ?? null,
    macsPerInference: d.macsPerInference ?? null,
    energyPerMacJ: d.energyPerMacJ,
    throughputMacsPerS: d.throughputMacsPerS,
    uplinkBps: d.uplinkBps,
    energyPerBitJ: d.energyPerBitJ,
    rttS: d.rttS,
  };
}
