/**
 * Calibration of activation ranges for int8 partitions: the float files run in onnxruntime over
 * the calibration images, in the order the router runs them (a file's inputs from another file
 * are that file's outputs on the same images), and each observed value's range is chosen by the
 * calibration method. One thread and a fixed batch order, so the same images give the same ranges.
 */
import { Codes, MeanetError } from "../../diagnostics/index.js";
import type { PartitionIo } from "../../format/manifest.js";
import type { Calibration, ValueRange } from "../../format/quantize.js";
import { ort } from "../infer/onnx.js";

/** A float file to run, and the values of it whose ranges are wanted. */
export interface ObservedFile {
  path: string;
  /** The float file with the observed values added as outputs. */
  bytes: Uint8Array;
  inputs: PartitionIo[];
  outputs: PartitionIo[];
  observe: string[];
}

/** The model input: its tensor, name, element type and shape (no batch). */
export interface ImageIo {
  tensor: number;
  name: string;
  dtype: string;
  shape: number[];
}

export interface CalibrationImages {
  /** NHWC uint8 pixels, `count` images. */
  images: Uint8Array;
  count: number;
  /** Where they come from, for the manifest and the files' metadata. */
  source: string;
}


const BINS = 2048;
const BATCH = 64;
/** Values observed per batch at most: batches of large images are smaller (the first batch, of one image, measures). */
const FLOATS_PER_BATCH = 16 * 2 ** 20;

/** What is known of one value: its extremes, then (second pass) a histogram between them. */
interface Stats {
  min: number;
  max: number;
  hist: Float64Array | undefined;
}

async function forEachBatch(files: ObservedFile[], sessions: ort.InferenceSession[], images: CalibrationImages, imageIo: ImageIo, visit: (path: string, name: string, data: Float32Array) => void): Promise<void> {
  const size = imageIo.shape.reduce((a, b) => a * b, 1);
  let batch = 1;
  for (let start = 0, n = 0; start < images.count; start += n) {
    n = Math.min(batch, images.count - start);
    let observed = 0;
    const pixels = images.images.subarray(start * size, (start + n) * size);
    // A float input takes the pixel values as they are (the file scales them as it scales uint8 ones).
    const image = imageIo.dtype === "float32" ? new ort.Tensor("float32", Float32Array.from(pixels), [n, ...imageIo.shape]) : new ort.Tensor("uint8", pixels, [n, ...imageIo.shape]);
    const byTensor = new Map<number, ort.Tensor>([[imageIo.tensor, image]]);
    for (let f = 0; f < files.length; f++) {
      const file = files[f]!;
      const feeds: Record<string, ort.Tensor> = {};
      for (const io of file.inputs) {
        const t = byTensor.get(io.tensor);
        if (!t) throw new Error(`calibration: ${file.path} reads ${io.name}, which no earlier file gives`);
        feeds[io.name] = t;
      }
      const out = await sessions[f]!.run(feeds);
      for (const io of file.outputs) if (!io.exit) byTensor.set(io.tensor, out[io.name]!);
      for (const name of file.observe) {
        visit(file.path, name, out[name]!.data as Float32Array);
        observed += out[name]!.size;
      }
    }
    if (start === 0) batch = Math.max(1, Math.min(BATCH, Math.floor(FLOATS_PER_BATCH / Math.max(1, observed))));
  }
}

/** The range of one value by the calibration method, from its statistics. */
export function chooseRange(s: Stats, c: Calibration): ValueRange {
  if (c.method === "minmax" || !s.hist || s.max <= s.min) return { min: s.min, max: s.max };
  const width = (s.max - s.min) / BINS;
  const at = (i: number) => s.min + (i + 0.5) * width;
  if (c.method === "percentile") {
    const total = s.hist.reduce((a, b) => a + b, 0);
    // Both tails of (100 − P)%: a P below 50 names the same range as 100 − P.
    const tail = (total * (100 - Math.max(c.percentile, 100 - c.percentile))) / 100;
    let lo = 0;
    for (let seen = 0; lo < BINS - 1 && seen + s.hist[lo]! <= tail; lo++) seen += s.hist[lo]!;
    let hi = BINS - 1;
    for (let seen = 0; hi > 0 && seen + s.hist[hi]! <= tail; hi--) seen += s.hist[hi]!;
    // A range that starts at the observed minimum (0 after a ReLU) keeps it.
    return { min: lo === 0 ? s.min : s.min + lo * width, max: hi === BINS - 1 ? s.max : s.min + (hi + 1) * width };
  }
  // mse: the shrink of the observed range that minimises the expected squared error.
  let best = { min: s.min, max: s.max, err: Infinity };
  for (let k = 16; k <= 256; k++) {
    const [lo, hi] = [Math.min(0, s.min) * (k / 256), Math.max(0, s.max) * (k / 256)];
    const step = (hi - lo) / 255;
    let err = 0;
    for (let i = 0; i < BINS; i++) {
      const x = at(i);
      const d = x < lo ? lo - x : x > hi ? x - hi : 0;
      err += s.hist[i]! * (d > 0 ? d * d : (step * step) / 12);
    }
    if (err < best.err) best = { min: lo, max: hi, err };
  }
  return { min: best.min, max: best.max };
}

/** The range of every observed value of every file, by file path and value name. */
export async function calibrateRanges(files: ObservedFile[], images: CalibrationImages, imageIo: ImageIo, c: Calibration): Promise<Map<string, Map<string, ValueRange>>> {
  const size = imageIo.shape.reduce((a, b) => a * b, 1);
  if (images.count === 0) throw new MeanetError(Codes.CalibrationFailed, `the calibration set is empty (${images.source})`);
  if (images.images.length !== images.count * size) {
    throw new MeanetError(Codes.CalibrationFailed, `calibration images from ${images.source} are not ${imageIo.shape.join("×")} pixels each (${images.images.length} bytes for ${images.count} images)`);
  }
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" as const };
  const sessions = await Promise.all(files.map((f) => ort.InferenceSession.create(f.bytes, options)));
  const stats = new Map<string, Stats>();
  const key = (path: string, name: string) => `${path}\u0000${name}`;
  await forEachBatch(files, sessions, images, imageIo, (path, name, data) => {
    const s = stats.get(key(path, name)) ?? { min: Infinity, max: -Infinity, hist: undefined };
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < s.min) s.min = v;
      if (v > s.max) s.max = v;
    }
    stats.set(key(path, name), s);
  });
  if (c.method !== "minmax") {
    await forEachBatch(files, sessions, images, imageIo, (path, name, data) => {
      const s = stats.get(key(path, name))!;
      s.hist ??= new Float64Array(BINS);
      const scale = s.max > s.min ? BINS / (s.max - s.min) : 0;
      const hist = s.hist;
      for (let i = 0; i < data.length; i++) {
        const j = Math.min(BINS - 1, Math.floor((data[i]! - s.min) * scale));
        hist[j] = hist[j]! + 1;
      }
    });
  }
  await Promise.all(sessions.map((s) => s.release()));
  const out = new Map<string, Map<string, ValueRange>>();
  for (const f of files) out.set(f.path, new Map(f.observe.map((name) => [name, chooseRange(stats.get(key(f.path, name))!, c)])));
  return out;
}
