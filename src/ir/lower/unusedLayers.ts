import { Codes, DiagnosticBag, type RelatedInfo } from "../../diagnostics/index.js";
import type { IrBlock, IrExit } from "../graph.js";
import type { AssignedValue } from "./blocks.js";
import type { GraphStore } from "./nodes.js";

const HINT = "no exit and no other block uses it; remove it, or use it on the way to an exit";

/** The hint for a value other blocks read, though on no way to an exit. */
function readHint(readers: string[]): string {
  const who = readers.map((b) => `\`${b}\``).join(", ");
  return `only block${readers.length === 1 ? "" : "s"} ${who} read${readers.length === 1 ? "s" : ""} it, and not on the way to an exit; remove it, or use it on the way to an exit`;
}

/**
 * Layers whose output reaches no exit are still counted in params, MACs and memory: warns about
 * each (MN2024). The layers used are found walking back from the exits' outputs through the inputs
 * of each layer, across blocks: a layer another block reads (`main.features`) is used only when
 * that block's use of it leads to an exit. A value that no exit needs is reported once, where it is
 * assigned; layers made by no such assignment (inside a condition such as
 * `channels(conv2d(x, 8))`, or a list) are reported at the last of them.
 */
export function warnUnusedLayers(store: GraphStore, blocks: IrBlock[], exits: IrExit[], assigned: AssignedValue[], bag: DiagnosticBag): void {
  const used = new Set<number>();
  const stack = exits.map((x) => x.tensor);
  while (stack.length) {
    const producer = store.tensors[stack.pop()!]?.producer ?? -1;
    if (producer < 0 || used.has(producer)) continue;
    used.add(producer);
    stack.push(...store.nodes[producer]!.inputs);
  }
  if (used.size === store.nodes.length) return;

  // The outermost unused assignment speaks for the layers made inside it (a def's own variables, say).
  const covered: { first: number; end: number }[] = [];
  const unused = assigned.filter((v) => !used.has(store.tensors[v.tensor]!.producer)).sort((a, b) => a.firstNode - b.firstNode || b.endNode - a.endNode);
  for (const v of unused) {
    if (covered.some((c) => c.first <= v.firstNode && v.endNode <= c.end)) continue;
    covered.push({ first: v.firstNode, end: v.endNode });
    const n = v.endNode - v.firstNode;
    const what = v.def ? `value \`${v.name}\` of def \`${v.def}\`` : `value \`${v.name}\``;
    const related: RelatedInfo[] = v.def && v.callSite ? [{ message: `called here, in block \`${v.block}\``, span: v.callSite }] : [];
    const readers = blocks.filter((b) => b.reads.some((r) => r.tensor === v.tensor)).map((b) => b.name);
    const hint = readers.length ? readHint(readers) : HINT;
    bag.warning(Codes.UnusedValue, `${what} is counted in the costs (${layers(n)}) but reaches no exit`, v.span, { hint, ...(related.length ? { related } : {}) });
  }

  const loose = store.nodes.filter((n) => !used.has(n.id) && !covered.some((c) => c.first <= n.id && n.id < c.end));
  const looseIds = new Set(loose.map((n) => n.id));
  const feedsLoose = new Set(loose.flatMap((n) => n.inputs.map((t) => store.tensors[t]!.producer)));
  for (const last of loose.filter((n) => !feedsLoose.has(n.id))) {
    const before = new Set<number>();
    const walk = [...last.inputs];
    while (walk.length) {
      const p = store.tensors[walk.pop()!]!.producer;
      if (!looseIds.has(p) || before.has(p)) continue;
      before.add(p);
      walk.push(...store.nodes[p]!.inputs);
    }
    const also = before.size ? ` and the ${layers(before.size)} before it` : "";
    bag.warning(Codes.UnusedValue, `layer \`${last.name}\`${also} ${before.size ? "are" : "is"} counted in the costs but reach${before.size ? "" : "es"} no exit`, last.span, { hint: HINT });
  }
}

function layers(n: number): string {
  return `${n} layer${n === 1 ? "" : "s"}`;
}
