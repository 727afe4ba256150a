/**
 * The files of an export at the precision of the device each runs on. Every partition is first
 * written in float32 (the reference); int8 partitions are then calibrated on real images and
 * quantized, fp16 partitions halved. A tensor that leaves an int8 edge file for the cloud is sent
 * as uint8: the edge file quantizes it with its calibrated range and the cloud file dequantizes it.
 * One that leaves an fp16 edge file is sent as float16: the edge file casts it down, the cloud
 * file casts it back up. References take and give such tensors in float32.
 */
import type { Build } from "../format/build.js";
import type { Precision } from "../format/ir.js";
import type { ExportCalibration, PartitionIo, PartitionPlan } from "../format/manifest.js";
import { isNarrowLink, referenceDtype, type Calibration, type ValueRange } from "../format/quantize.js";
import { producerOf } from "../format/exits.js";
import { decodeModel } from "../codegen/onnx/proto.js";
import { toFloat16 } from "../codegen/onnx/float16.js";
import { observeModel, quantizationPlan, quantizeModel, uint8Params } from "../codegen/onnx/quantize.js";
import { calibrateRanges, type ObservedFile } from "../runtime/export/calibrate.js";
import { calibrationImages } from "../runtime/export/calibrationImages.js";

/**
 * Which file an emission is: the float32 `reference` of a file shipped at another form, the
 * `shipped` file before its quantization or halving, or a float32 file shipped `as-is`.
 */
export type FileRole = "reference" | "shipped" | "as-is";

/** How a partition file is written in float32, for its role, at its device's precision. */
export type Emitter = (plan: PartitionPlan, precision: Precision, role: FileRole, calibration: ExportCalibration | null) => Uint8Array;

export interface PrecisionOptions {
  build: Build;
  dataDir: string | undefined;
  calibration: Calibration;
  randomSeed: number | undefined;
  warn: (line: string) => void;
}

export interface PrecisionFiles {
  /** Each plan's shipped file, in plan order. */
  shipped: Uint8Array[];
  /** Float32 references of the int8 and fp16 files, by path. */
  references: Map<string, Uint8Array>;
  calibration: ExportCalibration | null;
}

export const precisionOf = (build: Pick<Build, "ir">, plan: Pick<PartitionPlan, "device">): Precision => build.ir.devices[plan.device].precision;

/** Where the float32 reference of a shipped file goes: `edge/reference/main.onnx` for `edge/main.onnx`. */
export function referencePath(path: string): string {
  const slash = path.lastIndexOf("/");
  return `${path.slice(0, slash + 1)}reference/${path.slice(slash + 1)}`;
}

/** The plans int8 files depend on (their inputs' producers, transitively), with them, in plan order. */
function neededFor(plans: PartitionPlan[], int8: PartitionPlan[]): PartitionPlan[] {
  const need = new Set<PartitionPlan>();
  const visit = (p: PartitionPlan | undefined) => {
    if (!p || need.has(p)) return;
    need.add(p);
    for (const io of p.inputs) visit(producerOf(plans, io));
  };
  int8.forEach(visit);
  return plans.filter((p) => need.has(p));
}

/** Outputs of an int8 edge file that cross the link (planPartitions makes them uint8). */
function linkOutputs(o: PrecisionOptions, plan: PartitionPlan) {
  return plan.outputs.filter((io) => !io.exit && isLink(o, io));
}

const isLink = (o: PrecisionOptions, io: PartitionIo) => isNarrowLink(io, o.build.ir.input.tensor);

/** The plan as its float32 reference takes and gives its tensors: the link's in float32. */
function floatPlan(o: PrecisionOptions, plan: PartitionPlan): PartitionPlan {
  const float = (io: PartitionIo): PartitionIo => ({ ...io, dtype: referenceDtype(io, o.build.ir.input.tensor) });
  return { ...plan, inputs: plan.inputs.map(float), outputs: plan.outputs.map(float) };
}

async function calibrate(o: PrecisionOptions, plans: PartitionPlan[], int8: PartitionPlan[], references: Map<PartitionPlan, Uint8Array>) {
  const images = calibrationImages({ build: o.build, dataDir: o.dataDir, calibration: o.calibration, randomSeed: o.randomSeed, warn: o.warn });
  const files: ObservedFile[] = neededFor(plans, int8).map((p) => {
    const ref = references.get(p)!;
    const observe = int8.includes(p) ? [...quantizationPlan(decodeModel(ref)).observe, ...linkOutputs(o, p).map((io) => io.name)] : [];
    return { path: p.path, bytes: observe.length ? observeModel(ref, observe) : ref, inputs: p.inputs, outputs: p.outputs, observe };
  });
  const input = o.build.ir.input;
  const ranges = await calibrateRanges(files, images, { tensor: input.tensor, name: input.name, dtype: input.dtype, shape: input.shape }, o.calibration);
  return { ranges, source: images.source, count: images.count };
}

/** Gives the tensors leaving int8 edge files for the cloud their calibrated parameters, on both sides. */
function quantizeLinks(o: PrecisionOptions, plans: PartitionPlan[], int8: PartitionPlan[], ranges: Map<string, Map<string, ValueRange>>): void {
  for (const p of int8) {
    for (const out of linkOutputs(o, p)) {
      const quant = uint8Params(ranges.get(p.path)!.get(out.name)!);
      out.quant = quant;
      for (const q of plans) for (const i of q.inputs) if (i.tensor === out.tensor) i.quant = quant;
    }
  }
}

export async function atDevicePrecision(o: PrecisionOptions, plans: PartitionPlan[], emit: Emitter): Promise<PrecisionFiles> {
  const precisions = plans.map((p) => precisionOf(o.build, p));
  const int8 = plans.filter((_, i) => precisions[i] === "int8");
  // Files that take a tensor an int8 or fp16 edge file sends over the link differ from their float form too.
  const changed = plans.map((p, i) => precisions[i] !== "fp32" || p.inputs.some((io) => isLink(o, io)));
  const refs = new Map(plans.map((p, i) => [p, emit(floatPlan(o, p), precisions[i]!, changed[i] ? "reference" : "as-is", null)]));
  let calibration: ExportCalibration | null = null;
  let ranges = new Map<string, Map<string, ValueRange>>();
  if (int8.length) {
    const c = await calibrate(o, plans, int8, refs);
    ranges = c.ranges;
    calibration = { ...o.calibration, images: c.count, source: c.source };
    quantizeLinks(o, plans, int8, ranges);
  }
  const shipped = plans.map((p, i) => {
    if (!changed[i]) return refs.get(p)!;
    const bytes = emit(p, precisions[i]!, "shipped", calibration);
    if (precisions[i] === "int8") return quantizeModel(bytes, ranges.get(p.path)!);
    return precisions[i] === "fp16" ? toFloat16(bytes) : bytes;
  });
  const references = new Map(plans.flatMap((p, i) => (changed[i] ? [[referencePath(p.path), refs.get(p)!] as const] : [])));
  return { shipped, references, calibration };
}
