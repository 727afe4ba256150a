/**
 * A float file at half precision: float16 weights and float16 activations inside, float32 at the
 * file's edges (inputs are cast down on entry, outputs cast up on exit), so readers of the file
 * see the same tensor types at every precision. Pure: the same file gives the same bytes.
 */
import { DataType, decodeModel, encodeModel, type NodeProto, type TensorProto } from "./proto.js";

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The nearest float16 (round half to even) of a float32, as its 16 bits. */
export function toHalfBits(x: number): number {
  F32[0] = x;
  const bits = U32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: the implicit bit joins the mantissa, shifted into place, rounded to even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let out = m >>> shift;
    if (rest > half || (rest === half && out & 1)) out++;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && out & 1)) out++;
  return sign | out;
}

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
