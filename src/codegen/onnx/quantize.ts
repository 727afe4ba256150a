/**
 * Static int8 quantization of an exported float file, in the QDQ form that onnxruntime fuses into
 * its integer kernels: QuantizeLinear → DequantizeLinear pairs on activations (uint8, one scale and
 * zero point per tensor, from ranges calibrated on real images), weights stored as int8 with one
 * symmetric scale per output channel and a 7-bit range, biases stored as int32 at the scale
 * input scale × weight scale.
 *
 * The 7-bit weight range keeps every pair of u8 × s8 products inside an int16 (255·63·2 < 2¹⁵),
 * so x86 kernels without VNNI, which add pairs in int16 with saturation, give the same sums as
 * VNNI and ARM kernels: the file answers the same on every runtime.
 *
 * Two steps, both pure: `quantizationPlan` says which values need a range (calibration observes
 * them in the float file, see `observeModel`), and `quantizeModel` rewrites the file given them.
 */
import type { ValueRange } from "../../format/quantize.js";
import { DataType, decodeModel, encodeModel, floatTensor, intTensor, valueInfo, type ModelProto, type NodeProto, type TensorProto } from "./proto.js";

/** Ops whose activation inputs (and output) are quantized: onnxruntime has integer kernels for them. */
const QUANTIZED = new Set(["Conv", "Gemm", "Add", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool"]);
/** Ops that move or select values without changing them: their output takes their input's scale. */
const SAME_SCALE = new Set(["MaxPool", "Flatten", "Transpose", "Reshape"]);
/** Activations folded into the quantization of their input: a uint8 range that starts at 0 clips as they do. */
const FOLDED = new Set(["Relu", "Clip"]);
/** Which inputs of an op are activations (the others are weights). */
const ACTIVATION_INPUTS: Record<string, (i: number) => boolean> = { Conv: (i) => i === 0, Gemm: (i) => i === 0 };
/** The axis of a weight's output channels. */
const WEIGHT_AXIS: Record<string, number> = { Conv: 0, Gemm: 1 };

export const WEIGHT_QMAX = 63;


/** One value to quantize: Q reads `value`, with the range observed at `rangeOf`; DQ's output is named `output`. */
interface Site {
  value: string;
  rangeOf: string;
  output: string;
  /** A folded activation node removed by this site. */
  folds: NodeProto | undefined;
}

export interface QuantizationPlan {
  sites: Site[];
  /** The values whose ranges calibration must observe. */
  observe: string[];
}

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/** uint8 parameters of a range: it is widened to hold 0 exactly, as zero padding needs. */
export function uint8Params(r: ValueRange): QuantParams {
  const lo = Math.min(r.min, 0);
  const hi = Math.max(r.max, 0);
  const scale = hi > lo ? Math.fround((hi - lo) / 255) : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

function readersOf(nodes: NodeProto[]): Map<string, NodeProto[]> {
  const readers = new Map<string, NodeProto[]>();
  for (const n of nodes) for (const i of n.input ?? []) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  return readers;
}

/** Which values of the file are quantized, and which ranges that needs. */
export function quantizationPlan(model: ModelProto): QuantizationPlan {
  const graph = model.graph!;
  const nodes = graph.node ?? [];
  const weights = new Set((graph.initializer ?? []).map((t) => t.name!));
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  const readers = readersOf(nodes);
  const producer = new Map(nodes.map((n) => [n.output![0]!, n]));
  const wanted = new Set<string>();
  const isQuantizedReader = (n: NodeProto, index: number) => (QUANTIZED.has(n.opType!) || SAME_SCALE.has(n.opType!)) && (ACTIVATION_INPUTS[n.opType!]?.(index) ?? true);
  // A value a DequantizeLinear gives (a tensor that came over as uint8) already has its scale.
  const dequantized = new Set(nodes.filter((n) => n.opType === "DequantizeLinear").map((n) => n.output![0]!));
  for (const n of nodes) {
    (n.input ?? []).forEach((v, i) => {
      if (v && !weights.has(v) && !dequantized.has(v) && isQuantizedReader(n, i)) wanted.add(v);
    });
    const out = n.output![0]!;
    // A Gemm whose result only leaves the file or goes to a softmax keeps it in float.
    const readByQuantized = (readers.get(out) ?? []).some((r) => (r.input ?? []).some((v, i) => v === out && isQuantizedReader(r, i)));
    if (QUANTIZED.has(n.opType!) && (n.opType !== "Gemm" || readByQuantized)) wanted.add(out);
  }
  const sites: Site[] = [];
  const done = new Set<string>();
  for (const n of nodes) {
    for (const value of [...(n.input ?? []), n.output![0]!]) {
      if (!wanted.has(value) || done.has(value)) continue;
      done.add(value);
      const from = producer.get(value);
      const only = readers.get(value) ?? [];
      const fold = from && QUANTIZED.has(from.opType!) && only.length === 1 && FOLDED.has(only[0]!.opType!) && !outputs.has(value) ? only[0]! : undefined;
      if (fold) {
        // The activation's output is quantized in its place: Q reads the value before it.
        const after = fold.output![0]!;
        done.add(after);
        sites.push({ value, rangeOf: after, output: after, folds: fold });
      } else {
        sites.push({ value, rangeOf: value, output: value, folds: undefined });
      }
    }
  }
  // A value that keeps its input's scale is observed at the input it comes from.
  const siteOf = new Map(sites.map((s) => [s.output, s]));
  for (const s of sites) {
    const from = producer.get(s.value);
    if (from && SAME_SCALE.has(from.opType!) && siteOf.has(from.input![0]!)) s.rangeOf = siteOf.get(from.input![0]!)!.rangeOf;
    else if (from && SAME_SCALE.has(from.opType!) && dequantized.has(from.input![0]!)) s.rangeOf = from.input![0]!;
  }
  return { sites, observe: [...new Set(sites.map((s) => s.rangeOf))] };
}

/** The float file with every value in `names` also given as an output, for calibration to observe. */
export function observeModel(bytes: Uint8Array, names: readonly string[]): Uint8Array {
  const model = decodeModel(bytes);
  const graph = model.graph!;
  const present = new Set((graph.output ?? []).map((o) => o.name!));
  for (const name of names) if (!present.has(name)) graph.output!.push(valueInfo(name, DataType.FLOAT, []) as never);
  // valueInfo with no dimensions would say "a scalar": the observed values have shapes of their own.
  for (const o of graph.output!) if (names.includes(o.name!) && !present.has(o.name!)) delete (o.type!.tensorType as { shape?: unknown }).shape;
  return encodeModel(model);
}

function floatsOf(t: TensorProto): Float32Array {
  if (t.dataType !== DataType.FLOAT) throw new Error(`initializer ${t.name} is not float32`);
  const raw = t.rawData!;
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return new Float32Array(copy.buffer);
}

/** Float32 values as an initializer: a scalar for one value, else a vector. */
const floatsTensor = (name: string, values: number[]): TensorProto => floatTensor(name, values.length === 1 ? [] : [values.length], Float32Array.from(values));

/** Per-channel symmetric int8 weights in the 7-bit range: the values and each channel's scale. */
export function quantizeWeights(w: Float32Array, dims: number[], axis: number): { q: Int8Array; scales: number[] } {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const amax = new Array<number>(channels).fill(0);
  for (let i = 0; i < w.length; i++) amax[channelOf(i)] = Math.max(amax[channelOf(i)]!, Math.abs(w[i]!));
  const scales = amax.map((a) => (a > 0 ? Math.fround(a / WEIGHT_QMAX) : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-WEIGHT_QMAX, Math.min(WEIGHT_QMAX, Math.round(w[i]! / scales[channelOf(i)]!)));
  return { q, scales };
}

class Rewriter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  constructor(private readonly old: Map<string, TensorProto>) {}

  private count = 0;

  /**
   * A short name for a value the quantization adds (`q.7`, `w.3`, `b.3`): a file's names count
   * against the device's memory too. No name of the float file has this form (its names are the
   * spec's identifiers, `block.export` with an identifier after the dot, and `block/op_n`).
   */
  fresh(prefix: string): string {
    return `${prefix}.${this.count++}`;
  }

  has(name: string): boolean {
    return this.old.has(name);
  }

  /** The float initializers left as they were. */
  remaining(): TensorProto[] {
    return [...this.old.values()];
  }

  take(name: string): TensorProto {
    const t = this.old.get(name);
    if (!t) throw new Error(`initializer ${name} is missing`);
    this.old.delete(name);
    return t;
  }

  dq(input: string, scale: string, zeroPoint: string | undefined, output: string, axis?: number): void {
    const attribute = axis === undefined ? [] : [{ name: "axis", type: 2, i: axis }];
    this.nodes.push({ opType: "DequantizeLinear", input: zeroPoint ? [input, scale, zeroPoint] : [input, scale], output: [output], attribute });
  }

  /** A weight as int8 per channel, dequantized under its old name; returns the channel scales. */
  weight(name: string, axis: number): number[] {
    const t = this.take(name);
    const dims = t.dims!.map(Number);
    const { q, scales } = quantizeWeights(floatsOf(t), dims, axis);
    const w = this.fresh("w");
    this.initializers.push(intTensor(w, dims, q));
    this.initializers.push(floatsTensor(`${w}.s`, scales));
    // Symmetric: every zero point is 0, which a DequantizeLinear without one takes (of the int8 type of the weights).
    this.dq(w, `${w}.s`, undefined, name, axis);
    return scales;
  }

  /** A bias as int32 at scale input scale × weight scale, dequantized under its old name. */
  bias(name: string, inputScale: number, weightScales: number[]): void {
    const b = floatsOf(this.take(name));
    const scales = weightScales.map((s) => Math.fround(inputScale * s));
    const q = Int32Array.from(b, (v, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / scales[c]!))));
    const v = this.fresh("b");
    this.initializers.push(intTensor(v, [b.length], q));
    this.initializers.push(floatTensor(`${v}.s`, [b.length], Float32Array.from(scales)));
    this.dq(v, `${v}.s`, undefined, name, 0);
  }
}

/**
 * The file with its activations, weights and biases quantized. `ranges` holds a range for every
 * value of `quantizationPlan(model).observe` except those the file dequantizes itself (their
 * parameters are in the file). Values that leave the file stay float.
 */
export function quantizeModel(bytes: Uint8Array, ranges: ReadonlyMap<string, ValueRange>): Uint8Array {
  const model = decodeModel(bytes);
  const graph = model.graph!;
  const plan = quantizationPlan(model);
  const params = new Map<string, QuantParams>();
  // Values the file dequantizes itself (a uint8 tensor from another file) carry their parameters.
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  for (const n of graph.node ?? []) {
    if (n.opType !== "DequantizeLinear") continue;
    const [scale, zeroPoint] = [initializers.get(n.input![1]!), initializers.get(n.input![2] ?? "")];
    if (scale?.dataType === DataType.FLOAT && scale.rawData?.byteLength === 4) params.set(n.output![0]!, { scale: floatsOf(scale)[0]!, zeroPoint: zeroPoint?.rawData?.[0] ?? 0 });
  }
  for (const s of plan.sites) {
    const r = ranges.get(s.rangeOf);
    const known = params.get(s.rangeOf);
    if (!r && !known) throw new Error(`no calibrated range for ${s.rangeOf}`);
    params.set(s.output, r ? uint8Params(r) : known!);
  }
  const rw = new Rewriter(initializers);
  const folded = new Set(plan.sites.flatMap((s) => (s.folds ? [s.folds] : [])));
  const siteAfter = new Map<string, Site>();
  for (const s of plan.sites) siteAfter.set(s.value, s);
  // Consumers read the dequantized value: `<name>.dq` unless the site replaces a folded activation.
  const renamed = new Map(plan.sites.filter((s) => !s.folds).map((s) => [s.value, `${s.value}.dq`]));
  const emitSite = (s: Site) => {
    const p = params.get(s.output)!;
    const q = rw.fresh("q");
    const [scale, zp] = [`${q}.s`, `${q}.z`];
    rw.initializers.push(floatsTensor(scale, [p.scale]), intTensor(zp, [], Uint8Array.of(p.zeroPoint)));
    rw.nodes.push({ opType: "QuantizeLinear", input: [s.value, scale, zp], output: [q], attribute: [] });
    rw.dq(q, scale, zp, s.folds ? s.output : `${s.value}.dq`);
  };
  // Graph inputs are quantized before the first node.
  for (const s of plan.sites) if (!graph.node!.some((n) => n.output![0] === s.value)) emitSite(s);
  for (const n of graph.node ?? []) {
    if (folded.has(n)) continue;
    const input = (n.input ?? []).map((v) => renamed.get(v) ?? v);
    const axis = WEIGHT_AXIS[n.opType!];
    if (axis !== undefined && input[1] && rw.has(input[1])) {
      const weightScales = rw.weight(input[1], axis);
      const inputScale = params.get(n.input![0]!)?.scale;
      if (input[2] && inputScale !== undefined) rw.bias(input[2], inputScale, weightScales);
    }
    // Node names are optional in ONNX; left out, they do not count against the device's memory.
    rw.nodes.push({ ...n, name: "", input });
    const s = siteAfter.get(n.output![0]!);
    if (s) emitSite(s);
  }
  // A folded activation's constant inputs (Clip's bounds) are read by nothing now.
  const read = new Set(rw.nodes.flatMap((n) => n.input ?? []));
  graph.node = rw.nodes as typeof graph.node;
  graph.initializer = [...rw.remaining(), ...rw.initializers].filter((t) => read.has(t.name!)) as typeof graph.initializer;
  return encodeModel(model);
}
