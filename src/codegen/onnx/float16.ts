/**
 * A float file at half precision: float16 weights and float16 activations inside, float32 at the
 * file's edges (inputs are cast down on entry, outputs cast up on exit), so readers of the file
 * see the same tensor types at every precision. Pure: the same file gives the same bytes.
 */
import { toHalfBits } from "../../format/quantize.js";
import { DataType, decodeModel, encodeModel, type NodeProto, type TensorProto } from "./proto.js";

function halfTensor(t: TensorProto): TensorProto {
  if (t.dataType !== DataType.FLOAT) return t;
  const raw = t.rawData!;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Uint8Array(raw.byteLength / 2);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < raw.byteLength / 4; i++) outView.setUint16(i * 2, toHalfBits(view.getFloat32(i * 4, true)), true);
  return { ...t, dataType: DataType.FLOAT16, rawData: out };
}

const cast = (input: string, output: string, to: number): NodeProto => ({ name: `${output}:Cast`, opType: "Cast", input: [input], output: [output], attribute: [{ name: "to", type: 2, i: to }] });

export function toFloat16(bytes: Uint8Array): Uint8Array {
  const model = decodeModel(bytes);
  const graph = model.graph!;
  const isFloat = (v: { type?: { tensorType?: { elemType?: number | null } | null } | null }) => v.type?.tensorType?.elemType === DataType.FLOAT;
  const renamed = new Map<string, string>();
  const nodes: NodeProto[] = [];
  for (const i of graph.input ?? []) {
    if (!isFloat(i)) continue;
    renamed.set(i.name!, `${i.name}.fp16`);
    nodes.push(cast(i.name!, `${i.name}.fp16`, DataType.FLOAT16));
  }
  const floatOutputs = new Set((graph.output ?? []).filter(isFloat).map((o) => o.name!));
  for (const n of graph.node ?? []) {
    const input = (n.input ?? []).map((v) => renamed.get(v) ?? v);
    const output = (n.output ?? []).map((v) => (floatOutputs.has(v) ? `${v}.fp16` : v));
    const attribute = n.opType === "Cast" ? (n.attribute ?? []).map((a) => (a.name === "to" && Number(a.i) === DataType.FLOAT ? { ...a, i: DataType.FLOAT16 } : a)) : n.attribute;
    nodes.push({ ...n, input, output, attribute });
  }
  for (const o of floatOutputs) nodes.push(cast(`${o}.fp16`, o, DataType.FLOAT));
  graph.node = nodes as typeof graph.node;
  graph.initializer = (graph.initializer ?? []).map(halfTensor) as typeof graph.initializer;
  return encodeModel(model);
}
