/**
 * The shipped files against their float32 references: the files of the export run chained as the
 * router runs them (each fed by the outputs of the files before it), once with the shipped files
 * and once with the references, on the same inputs. Per exit: top-1 agreement, the accuracy of
 * each on labelled images, and the largest difference of a probability. Agreement and the
 * accuracy change are gated on real images; on seeded random inputs they are reported.
 */
import { join } from "node:path";
import type { Build } from "../../format/build.js";
import { exitInfos, type ExportedPartition } from "../../format/exits.js";
import { feedTensor, openSession, type InferenceSession } from "../infer/onnx.js";

export interface PrecisionGates {
  /** Top-1 agreement with the reference at least this fraction (real images). */
  minAgreement: number;
  /** Accuracy change against the reference at least this, in points (real images; negative: a drop). */
  minAccuracyChange: number;
}

export const DEFAULT_PRECISION_GATES: PrecisionGates = { minAgreement: 0.97, minAccuracyChange: -0.5 };

export interface PrecisionCheck {
  /** The shipped file that gives the exit, and its reference. */
  partition: string;
  reference: string;
  precision: string;
  exit: string;
  inputs: "random" | "real";
  samples: number;
  agreement: number;
  /** On labelled images whose class the exit covers; null on random inputs. */
  accuracy: number | null;
  referenceAccuracy: number | null;
  /** shipped − reference, in points. */
  accuracyChange: number | null;
  maxProbDiff: number;
  /** Real-image checks of trained weights are gated; the others are reported. */
  gated: boolean;
  ok: boolean;
}

export interface PrecisionInputs {
  kind: "random" | "real";
  pixels: Uint8Array | Int8Array | Float32Array;
  labels: Int32Array | undefined;
  count: number;
}

/** The exit outputs of the chain of files, `pick` choosing which file runs for each partition. */
async function runChain(build: Build, parts: ExportedPartition[], sessions: Map<string, InferenceSession>, pick: (p: ExportedPartition) => string, x: PrecisionInputs): Promise<Map<string, Float32Array>> {
  const { ir } = build;
  const values = new Map<number, unknown>();
  const probs = new Map<string, Float32Array>();
  const pending = [...parts];
  while (pending.length) {
    const i = pending.findIndex((p) => p.inputs.every((io) => io.tensor === ir.input.tensor || values.has(io.tensor)));
    if (i < 0) throw new Error(`verify: ${pending.map((p) => p.path).join(", ")} read tensors no file gives`);
    const p = pending.splice(i, 1)[0]!;
    const feeds: Record<string, ReturnType<typeof feedTensor>> = {};
    for (const io of p.inputs) {
      feeds[io.name] = io.tensor === ir.input.tensor ? feedTensor(io.dtype, x.pixels, x.count, io.shape) : (values.get(io.tensor) as ReturnType<typeof feedTensor>);
    }
    const result = await sessions.get(pick(p))!.run(feeds);
    for (const io of p.outputs) {
      if (io.exit) probs.set(io.exit, result[io.name]!.data as Float32Array);
      else values.set(io.tensor, result[io.name]);
    }
  }
  return probs;
}

/** Inputs in batches of at most BATCH (feature maps of large images take memory), exit outputs joined. */
const BATCH = 32;
async function inBatches(x: PrecisionInputs, run: (b: PrecisionInputs) => Promise<Map<string, Float32Array>>): Promise<Map<string, Float32Array>> {
  const size = x.pixels.length / Math.max(1, x.count);
  const parts: Map<string, Float32Array>[] = [];
  for (let start = 0; start < x.count; start += BATCH) {
    const n = Math.min(BATCH, x.count - start);
    parts.push(await run({ ...x, pixels: x.pixels.subarray(start * size, (start + n) * size), count: n }));
  }
  const out = new Map<string, Float32Array>();
  for (const exit of parts[0]?.keys() ?? []) {
    const joined = new Float32Array(parts.reduce((t, p) => t + p.get(exit)!.length, 0));
    let at = 0;
    for (const p of parts) {
      joined.set(p.get(exit)!, at);
      at += p.get(exit)!.length;
    }
    out.set(exit, joined);
  }
  return out;
}

function score(got: Float32Array, want: Float32Array, k: number, classIds: number[], labels: Int32Array | undefined) {
  const argmax = (a: Float32Array, r: number) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (a[r * k + c]! > a[r * k + best]!) best = c;
    return best;
  };
  const n = want.length / k;
  let agree = 0;
  let maxProbDiff = 0;
  let covered = 0;
  let right = 0;
  let rightRef = 0;
  for (let r = 0; r < n; r++) {
    const [a, b] = [argmax(got, r), argmax(want, r)];
    if (a === b) agree++;
    for (let c = 0; c < k; c++) maxProbDiff = Math.max(maxProbDiff, Math.abs(got[r * k + c]! - want[r * k + c]!));
    if (!labels || !classIds.includes(labels[r]!)) continue;
    covered++;
    if (classIds[a] === labels[r]) right++;
    if (classIds[b] === labels[r]) rightRef++;
  }
  const accuracy = labels && covered ? right / covered : null;
  const referenceAccuracy = labels && covered ? rightRef / covered : null;
  return { agreement: agree / n, maxProbDiff, accuracy, referenceAccuracy };
}

/** Every exit of a file that has a reference, shipped against reference, on these inputs; checked against `gates` unless null (reported only). */
export async function comparePrecision(build: Build, x: PrecisionInputs, gates: PrecisionGates | null): Promise<PrecisionCheck[]> {
  const parts = build.manifest.export!.partitions;
  if (!parts.some((p) => p.reference)) return [];
  const sessions = new Map<string, InferenceSession>();
  try {
    for (const p of parts) for (const path of [p.path, p.reference].filter((f): f is string => Boolean(f))) sessions.set(path, await openSession(join(build.dir, path)));
    const shipped = await inBatches(x, (b) => runChain(build, parts, sessions, (p) => p.path, b));
    const reference = await inBatches(x, (b) => runChain(build, parts, sessions, (p) => p.reference ?? p.path, b));
    const exits = exitInfos(build.manifest);
    const checks: PrecisionCheck[] = [];
    for (const p of parts) {
      if (!p.reference) continue;
      for (const exit of p.exits) {
        const info = exits.get(exit)!;
        const s = score(shipped.get(exit)!, reference.get(exit)!, info.k, info.classIds, x.kind === "real" ? x.labels : undefined);
        const accuracyChange = s.accuracy !== null && s.referenceAccuracy !== null ? (s.accuracy - s.referenceAccuracy) * 100 : null;
        const gated = gates !== null;
        const ok = !gates || (s.agreement >= gates.minAgreement && (accuracyChange === null || accuracyChange >= gates.minAccuracyChange));
        checks.push({ partition: p.path, reference: p.reference, precision: p.precision ?? "fp32", exit, inputs: x.kind, samples: x.count, ...s, accuracyChange, gated, ok });
      }
    }
    return checks;
  } finally {
    for (const s of sessions.values()) await s.release();
  }
}
