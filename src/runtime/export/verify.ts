/**
 * `meanet verify`: runs every exported partition in onnxruntime and the same graph in tfjs (built
 * from the IR, an independent path) on the same inputs, and reports the largest absolute
 * difference per output. Each file is fed the tfjs values of its inputs; files that read other
 * files' outputs are also run chained, fed by onnxruntime's own outputs, which checks that the
 * partitions together reproduce the unpartitioned model. Before anything runs, the files it reads
 * are checked against manifest.json (`readVerifiedBuild`).
 */
import { join } from "node:path";
import type { PartitionPlan } from "../../format/manifest.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { referenceDtype } from "../../format/quantize.js";
import { readBuild, type Build } from "../../format/build.js";
import { feedTensor, openSession, type InferenceSession } from "../infer/onnx.js";
import { buildBlockModel, type BlockModel } from "../train/builder.js";
import { mulberry32 } from "../train/data/rng.js";
import { runBlocks, topoBlocks } from "../train/forward.js";
import { tf, type Tensor } from "../train/tf.js";
import { checkExportedFiles, readListedFile } from "./artifacts.js";
import { readBlockWeights, type WeightStore } from "./weights.js";
import { checkDeferral } from "./verifyDeferral.js";
import { DEFER_WEIGHTS } from "../../format/defer.js";
import { comparePrecision, type PrecisionCheck, type PrecisionGates } from "./verifyPrecision.js";

export interface VerifyOptions {
  buildDir: string;
  /** Seeded random inputs. */
  randomSamples: number;
  seed: number;
  /** Real samples (raw input values, NHWC), when data is at hand. */
  real?: { values: Uint8Array; count: number; source: string };
  tolerance: number;
  /**
   * Shipped int8 and fp16 files against their float32 references: on `real` labelled images
   * (gated) and on seeded random inputs (reported). Absent: no such comparison.
   */
  precision?: { real: { values: Uint8Array; labels: Int32Array; count: number } | undefined; randomSamples: number; gates: PrecisionGates };
}

export interface OutputCheck {
  partition: string;
  output: string;
  inputs: "random" | "real";
  /** `partition`: fed by tfjs values; `chained`: fed by onnxruntime outputs of earlier files. */
  mode: "partition" | "chained";
  maxAbsDiff: number;
  /** Largest |value| of the tfjs reference; feature maps are held to tolerance × max(1, this). */
  referenceMaxAbs: number;
  /** For exit probabilities: the fraction of samples whose top class agrees. */
  argmaxAgreement: number | null;
  ok: boolean;
}

export interface VerifyReport {
  model: string;
  weights: string;
  tolerance: number;
  checks: OutputCheck[];
  /** Shipped files against their references; empty when every file ships in float32. */
  precision: PrecisionCheck[];
  gates: PrecisionGates | null;
  ok: boolean;
}

/**
 * A build read for verify, with everything verify reads checked against manifest.json before
 * anything runs (MN5005 naming the first missing or changed file): every file of the last export,
 * and for an export of trained weights the weight files training listed, since the export's files
 * are compared with them. train-report.json is not read here, so it is not checked.
 */
export function readVerifiedBuild(dir: string): Build {
  const build = readBuild(dir);
  const exp = build.manifest.export;
  if (!exp) throw new MeanetError(Codes.BuildInvalid, `${join(build.dir, "manifest.json")} lists no ONNX export; run \`meanet export ${build.dir}\` first`);
  checkExportedFiles(build);
  if (exp.weights.kind === "trained") {
    const training = { since: "training", again: `run \`meanet train\` and \`meanet export ${build.dir}\` again` };
    const listed = new Set(build.manifest.artifacts.map((a) => a.path));
    for (const b of build.ir.blocks) {
      for (const f of [`weights/${b.name}/model.json`, `weights/${b.name}/weights.bin`]) if (listed.has(f)) readListedFile(build, f, training);
    }
    if (listed.has(`weights/${DEFER_WEIGHTS}`)) readListedFile(build, `weights/${DEFER_WEIGHTS}`, training);
  }
  return build;
}

/** The tfjs models of every block, with the weights the export used. */
function referenceModels(build: Build): Map<string, BlockModel> {
  const { ir } = build;
  const origin = build.manifest.export!.weights;
  const models = new Map<string, BlockModel>();
  const store: WeightStore = new Map();
  for (const b of ir.blocks) {
    const bm = buildBlockModel(ir, b, origin.kind === "random" ? origin.seed : ir.training.seed);
    if (origin.kind === "trained") {
      readBlockWeights(build.dir, ir, b.name, store);
      const values = bm.model.weights.map((v) => {
        const w = store.get(v.originalName);
        if (!w) throw new MeanetError(Codes.WeightsMismatch, `block \`${b.name}\`: no weight ${v.originalName} in weights/${b.name}`);
        return tf.tensor(w.data, w.shape);
      });
      bm.model.setWeights(values);
      tf.dispose(values);
    }
    models.set(b.name, bm);
  }
  return models;
}

type Pixels = Uint8Array | Int8Array | Float32Array;

/** The file tfjs is compared with: the float32 reference of a quantized file, else the file itself. */
const fileOf = (p: Omit<PartitionPlan, "nodes">): string => p.reference ?? p.path;

/** Seeded values over the input type's range (pixels 0–255 for float inputs, which the model scales like uint8). */
function randomInputs(dtype: string, count: number, size: number, seed: number): Pixels {
  const rng = mulberry32(seed);
  const n = count * size;
  switch (dtype) {
    case "uint8":
      return Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
    case "int8":
      return Int8Array.from({ length: n }, () => Math.floor(rng() * 256) - 128);
    case "float32":
      return Float32Array.from({ length: n }, () => rng() * 255);
    default:
      throw new MeanetError(Codes.BuildInvalid, `verify cannot feed inputs of type ${dtype} yet`);
  }
}

function compare(got: Float32Array, want: Float32Array, classes: number | null): { maxAbsDiff: number; referenceMaxAbs: number; argmaxAgreement: number | null } {
  let maxAbsDiff = got.length === want.length ? 0 : Infinity;
  let referenceMaxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
    referenceMaxAbs = Math.max(referenceMaxAbs, Math.abs(want[i]!));
  }
  if (classes === null) return { maxAbsDiff, referenceMaxAbs, argmaxAgreement: null };
  const n = want.length / classes;
  const argmax = (a: Float32Array, r: number) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (a[r * classes + c]! > a[r * classes + best]!) best = c;
    return best;
  };
  let agree = 0;
  for (let r = 0; r < n; r++) if (argmax(got, r) === argmax(want, r)) agree++;
  return { maxAbsDiff, referenceMaxAbs, argmaxAgreement: agree / n };
}

async function checkBatch(build: Build, models: Map<string, BlockModel>, sessions: Map<string, InferenceSession>, parts: Omit<PartitionPlan, "nodes">[], pixels: Pixels, count: number, kind: "random" | "real", tolerance: number): Promise<OutputCheck[]> {
  const { ir } = build;
  const reference = new Map<number, Float32Array>();
  tf.tidy(() => {
    const shape = [count, ...(ir.input.shape as [number, number, number])] as [number, number, number, number];
    const x = tf.div(pixels instanceof Float32Array ? tf.tensor4d(pixels, shape) : tf.tensor4d(Int32Array.from(pixels), shape, "int32").toFloat(), 255) as Tensor;
    const values = new Map<number, Tensor>([[ir.input.tensor, x]]);
    runBlocks(ir, models, topoBlocks(ir), values, () => false);
    for (const [id, t] of values) reference.set(id, t.dataSync() as Float32Array);
    for (const e of ir.exits) reference.set(-1 - ir.exits.indexOf(e), tf.softmax(values.get(e.tensor)!).dataSync() as Float32Array);
  });
  const probsOf = (exit: string) => reference.get(-1 - ir.exits.findIndex((e) => e.name === exit))!;
  const checks: OutputCheck[] = [];
  const fromOrt = new Map<number, Float32Array>();
  for (const mode of ["partition", "chained"] as const) {
    for (const p of parts) {
      const readsFiles = p.inputs.some((io) => io.tensor !== ir.input.tensor);
      if (mode === "chained" && !readsFiles) continue;
      const feeds: Record<string, ReturnType<typeof feedTensor>> = {};
      for (const io of p.inputs) {
        // A tensor inside a block (the cut of an `auto` block) has no tfjs value: onnxruntime's is fed.
        const data = io.tensor === ir.input.tensor ? pixels : mode === "partition" ? (reference.get(io.tensor) ?? fromOrt.get(io.tensor)!) : fromOrt.get(io.tensor)!;
        // References take the link's tensors in float32, as they were before quantization.
        feeds[io.name] = feedTensor(referenceDtype(io, ir.input.tensor), data, count, io.shape);
      }
      const result = await sessions.get(fileOf(p))!.run(feeds);
      for (const io of p.outputs) {
        const got = result[io.name]!.data as Float32Array;
        // Chained runs read onnxruntime's own values: from files fed only the model input, or from earlier chained runs.
        if (!io.exit && (mode === "chained" || !readsFiles)) fromOrt.set(io.tensor, got);
        const want = io.exit ? probsOf(io.exit) : reference.get(io.tensor);
        // The cut of an `auto` block is checked through the exit it leads to.
        if (!want) {
          fromOrt.set(io.tensor, got);
          continue;
        }
        const c = compare(got, want, io.exit ? io.shape[0]! : null);
        const limit = tolerance * (io.exit ? 1 : Math.max(1, c.referenceMaxAbs));
        checks.push({ partition: fileOf(p), output: io.name, inputs: kind, mode, ...c, ok: c.maxAbsDiff <= limit });
      }
    }
  }
  return checks;
}

export async function verifyBuild(o: VerifyOptions): Promise<VerifyReport> {
  const build = readVerifiedBuild(o.buildDir);
  const parts = build.manifest.export!.partitions;
  const models = referenceModels(build);
  const sessions = new Map<string, InferenceSession>();
  try {
    for (const p of parts) sessions.set(fileOf(p), await openSession(join(build.dir, fileOf(p))));
    const size = build.ir.input.shape.reduce((a, b) => a * b, 1);
    const checks = await checkBatch(build, models, sessions, parts, randomInputs(build.ir.input.dtype, o.randomSamples, size, o.seed), o.randomSamples, "random", o.tolerance);
    if (o.real && o.real.count > 0) checks.push(...(await checkBatch(build, models, sessions, parts, o.real.values, o.real.count, "real", o.tolerance)));
    checks.push(...(await checkDeferral(build, Math.max(o.randomSamples, 64), o.seed, o.tolerance)));
    const precision: PrecisionCheck[] = [];
    const q = o.precision;
    if (q) {
      const random = { kind: "random" as const, pixels: randomInputs(build.ir.input.dtype, q.randomSamples, size, o.seed + 1), labels: undefined, count: q.randomSamples };
      // Random weights answer near-uniformly, so which class wins flips at the smallest change: their agreement is reported, not gated.
      const gates = build.manifest.export!.weights.kind === "trained" ? q.gates : null;
      if (q.real && q.real.count > 0) precision.push(...(await comparePrecision(build, { kind: "real", pixels: q.real.values, labels: q.real.labels, count: q.real.count }, gates)));
      if (q.randomSamples > 0) precision.push(...(await comparePrecision(build, random, null)));
    }
    const w = build.manifest.export!.weights;
    const ok = checks.every((c) => c.ok) && precision.every((c) => c.ok);
    return { model: build.ir.model, weights: w.kind === "random" ? `random, seed ${w.seed}` : "trained", tolerance: o.tolerance, checks, precision, gates: q?.gates ?? null, ok };
  } finally {
    for (const s of sessions.values()) await s.release();
    for (const bm of models.values()) bm.model.dispose();
  }
}
