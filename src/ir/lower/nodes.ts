import { Codes, type DiagnosticBag, type Span } from "../../diagnostics/index.js";
import type { AttrValue, BlockRead, IrBlock, IrNode, IrTensor, Shape } from "../graph.js";
import { applyShapeRule, shapeInput, type OpDef, type ShapeInput } from "../ops/index.js";
import { Abort } from "./frame.js";
import type { Value } from "./values.js";

/** Past this, a spec is rejected rather than expanded: a guard against runaway repetition. */
const MAX_NODES = 50_000;

export interface GraphStore {
  tensors: IrTensor[];
  nodes: IrNode[];
  /** Shapes by tensor id; undefined where inference failed (already reported). */
  shapes: (Shape | undefined)[];
  /** By tensor id: for a tensor made inside a def, the call in the block's body that led there and the def that made it. */
  callSites: (DefCall | undefined)[];
  /** Def calls expanded so far in the whole spec. */
  defCalls: number;
}

/** The call in a block's body that led to a layer inside a def, and the def whose body holds the layer. */
export interface DefCall {
  call: Span;
  def: string;
}

export type TensorValue = Extract<Value, { kind: "tensor" }>;

/** A tensor given to an op, and how the call wrote it. */
export interface OpInput {
  value: TensorValue;
  text: string;
  span: Span;
}

/** The graph of one block as it is built: names its nodes, records its reads of other blocks, infers each node's shape. */
export class BlockGraph {
  private readonly counters = new Map<string, number>();
  private readonly defCounters = new Map<string, number>();

  constructor(
    private readonly store: GraphStore,
    readonly block: IrBlock,
    private readonly bag: DiagnosticBag,
  ) {}

  /** The name scope of the next call of `def` in this block: `def_N/`. */
  defScope(def: string): string {
    const n = (this.defCounters.get(def) ?? 0) + 1;
    this.defCounters.set(def, n);
    return `${def}_${n}/`;
  }

  /** Adds a node of `op` named after the def calls in `scope`, and its output tensor. */
  emit(op: OpDef, inputs: OpInput[], attrs: Record<string, AttrValue>, span: Span, scope: string, callSite: DefCall | undefined): TensorValue {
    if (this.store.nodes.length >= MAX_NODES) {
      this.bag.error(Codes.RecursionLimit, `the graph grows past ${MAX_NODES} layers`, span, { hint: "check repetition counts" });
      throw new Abort();
    }
    const n = (this.counters.get(op.name) ?? 0) + 1;
    this.counters.set(op.name, n);
    const nodeId = this.store.nodes.length;
    const tensorId = this.store.tensors.length;
    const name = `${this.block.name}/${scope}${op.name}_${n}`;
    const node: IrNode = { id: nodeId, op: op.name, name, block: this.block.name, inputs: inputs.map((i) => i.value.id), output: tensorId, attrs, span };
    this.store.nodes.push(node);
    this.store.tensors.push({ id: tensorId, name, block: this.block.name, producer: nodeId, span });
    this.store.callSites[tensorId] = callSite;
    this.block.nodes.push(nodeId);
    for (const i of inputs) this.noteRead(i.value, i.span);
    this.store.shapes.push(this.inferShape(op, inputs, attrs, span));
    return { kind: "tensor", id: tensorId, label: name, gradient: false };
  }

  private noteRead(v: TensorValue, span: Span): void {
    const t = this.store.tensors[v.id]!;
    if (t.block === this.block.name || t.producer < 0) return;
    const prior = this.block.reads.find((r: BlockRead) => r.tensor === v.id);
    if (prior) prior.gradient ||= v.gradient;
    else this.block.reads.push({ tensor: v.id, from: t.block, gradient: v.gradient, span, label: v.label });
  }

  /** The output shape by the op's rule; undefined when an input's shape is unknown (already reported) or the rule fails. */
  private inferShape(op: OpDef, inputs: OpInput[], attrs: Record<string, AttrValue>, span: Span): Shape | undefined {
    const shaped: ShapeInput[] = [];
    for (const i of inputs) {
      const shape = this.store.shapes[i.value.id];
      if (!shape) return undefined;
      shaped.push(shapeInput(shape, i.text, this.store.tensors[i.value.id]!.span, span, this.store.callSites[i.value.id]));
    }
    return applyShapeRule(op, shaped, attrs, span, this.bag);
  }
}
