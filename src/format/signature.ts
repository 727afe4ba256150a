import { createHash } from "node:crypto";
import type { IrJson } from "./ir.js";

/**
 * A fingerprint of one block's architecture: its nodes' names, ops, attributes and input shapes.
 * Training records it next to the weights; export compares it with the build's IR, so weights
 * trained for another version of the spec are refused even when their shapes happen to fit.
 */
export function blockSignature(ir: IrJson, block: string): string {
  const b = ir.blocks.find((x) => x.name === block);
  if (!b) throw new Error(`no block \`${block}\` in the IR`);
  const nodes = b.nodes.map((id) => {
    const n = ir.nodes[id]!;
    return [n.name, n.op, n.attrs, n.inputs.map((t) => ir.tensors[t]!.shape), ir.tensors[n.output]!.shape];
  });
  return createHash("sha256").update(JSON.stringify(nodes)).digest("hex").slice(0, 16);
}
