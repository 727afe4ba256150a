/**
 * Every exit of every input, computed once. Evaluation runs each exported file (edge and cloud) in
 * onnxruntime over the whole split, keeps every exit's probabilities, and knows what each exit
 * costs: the files it needs, their MACs per device, and the bytes that cross to the cloud. The
 * routed system and every baseline are then answers chosen from this table, so they are scored on
 * exactly the same model outputs.
 */
import { join } from "node:path";
import { exitInfos, exitView, exportedPartitions, ioBytes, partitionMacs, producerOf, unknownExit, type ExitInfo, type ExportedPartition } from "../../format/exits.js";
import { hardClassIds } from "../../format/hardClasses.js";
import type { IrJson } from "../../format/ir.js";
import { DEFER_READ } from "../../format/defer.js";
import { DEFER_OUTPUT, exportOf, type Manifest, type PartitionIo } from "../../format/manifest.js";
import { argmax } from "../../format/measures.js";
import { referenceDtype } from "../../format/quantize.js";
import { ExitUnavailable, type ExitView } from "../../format/rules.js";
import { readExportedFile } from "../export/artifacts.js";
import { feedTensor, openSession, tensorData, type FeedData, type InferenceSession } from "../infer/onnx.js";

/** An exit's outputs over the whole split, with what the routing view knows of it. */
export interface ExitTable extends ExitInfo {
  device: "edge" | "cloud";
  /** n × k probabilities. */
  probs: Float32Array;
  /** Bit mask of the files (in plan order) this exit needs. */
  needs: number;
}

export interface FileCost {
  device: "edge" | "cloud";
  macs: number;
  /** Bytes of the file's inputs sent to the cloud (cloud files only). */
  bytesIn: number;
}

export interface ExitOutputs {
  n: number;
  labels: ArrayLike<number>;
  exits: Map<string, ExitTable>;
  files: ExportedPartition[];
  fileCosts: FileCost[];
  hardIds: ReadonlySet<number>;
  /** Class labels of the spec. */
  labelNames: string[];
  /** Which files gave these outputs. */
  ran: FileSet;
  /** The deferral model's score per input, and the files it needs (its own bit after the partitions'). */
  defer?: { scores: Float32Array; needs: number; exits: string[] };
}

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Which files run: the shipped ones, or each file's float32 reference in its place (files without one as they ship). */
export type FileSet = "shipped" | "reference";

export interface ExitOutputOptions {
  /** "shipped" unless said. */
  files?: FileSet;
  batch?: number;
  onBatch?: (done: number) => void;
}

/** The file run for a partition, and the element types it takes its inputs in. */
function runnable(ir: IrJson, f: ExportedPartition, which: FileSet): { path: string; dtype: (io: PartitionIo) => string } {
  if (which === "reference" && f.reference) return { path: f.reference, dtype: (io) => referenceDtype(io, ir.input.tensor) };
  return { path: f.path, dtype: (io) => io.dtype };
}

/**
 * Runs every exported file over `count` inputs (NHWC, one after another) in batches: the shipped
 * files, or with `files: "reference"` the float32 references in their place.
 */
export async function computeExitOutputs(build: { dir: string; ir: IrJson; manifest: Manifest }, images: FeedData, labels: ArrayLike<number>, count: number, options: ExitOutputOptions = {}): Promise<ExitOutputs> {
  const { ir, manifest } = build;
  const which = options.files ?? "shipped";
  const files = exportedPartitions(manifest);
  const hard = hardClassIds(manifest);
  // Which files each file needs (itself and the producers of its inputs, transitively).
  const fileNeeds: number[] = [];
  files.forEach((f, i) => {
    let mask = 1 << i;
    for (const io of f.inputs) if (io.tensor !== ir.input.tensor) mask |= fileNeeds[files.indexOf(producerOf(files, io)!)]!;
    fileNeeds.push(mask);
  });
  const macs = partitionMacs(ir, files);
  const run = files.map((f) => runnable(ir, f, which));
  const fileCosts: FileCost[] = files.map((f, i) => ({
    device: f.device,
    macs: macs.get(f.path)!,
    // A reference is sent its inputs in the element types it takes (the link's in float32).
    bytesIn: f.device === "cloud" ? f.inputs.reduce((s, io) => s + ioBytes({ ...io, dtype: run[i]!.dtype(io) }), 0) : 0,
  }));
  const exits = new Map<string, ExitTable>();
  for (const info of exitInfos(manifest).values()) {
    exits.set(info.name, { ...info, device: info.file.device, probs: new Float32Array(count * info.k), needs: fileNeeds[files.indexOf(info.file)]! });
  }

  const deferral = exportOf(manifest).deferral;
  let defer: ExitOutputs["defer"];
  if (deferral) {
    // The deferral file runs on the edge after the files of the exits it reads.
    const needs = deferral.exits.reduce((m, x) => m | exits.get(x.name)!.needs, 1 << files.length);
    fileCosts.push({ device: "edge", macs: deferral.macs, bytesIn: 0 });
    defer = { scores: new Float32Array(count), needs, exits: deferral.exits.map((x) => x.name) };
  }
  const sessions: InferenceSession[] = [];
  let deferSession: InferenceSession | undefined;
  const batch = options.batch ?? 500;
  try {
    // Evaluate the files that were exported and verified, not files changed since.
    for (const r of run) sessions.push(await openSession(join(build.dir, r.path), {}, readExportedFile(build, r.path)));
    if (deferral) deferSession = await openSession(join(build.dir, deferral.path), {}, readExportedFile(build, deferral.path));
    const inputSize = elements(ir.input.shape);
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const values = new Map<string, FeedData>();
      values.set(ir.input.name, images.subarray(start * inputSize, (start + n) * inputSize));
      for (let i = 0; i < files.length; i++) {
        const f = files[i]!;
        const feeds = Object.fromEntries(f.inputs.map((io) => [io.name, feedTensor(run[i]!.dtype(io), values.get(io.tensor === ir.input.tensor ? ir.input.name : io.name)!, n, io.shape)]));
        const result = await sessions[i]!.run(feeds);
        for (const o of f.outputs) {
          if (o.exit) exits.get(o.exit)!.probs.set(result[o.name]!.data as Float32Array, start * o.shape[0]!);
          else values.set(o.name, tensorData(result[o.name]!));
        }
      }
      if (deferSession) await scoreDeferral(deferSession, exits, defer!, start, n);
      options.onBatch?.(start + n);
    }
  } finally {
    for (const s of sessions) await s.release();
    await deferSession?.release();
  }
  return { n: count, labels, exits, files, fileCosts, hardIds: new Set(hard), labelNames: manifest.labels, ran: which, ...(defer ? { defer } : {}) };
}

/** Runs the deferral file on rows [start, start + n) of the exits' probabilities. */
async function scoreDeferral(session: InferenceSession, exits: Map<string, ExitTable>, defer: NonNullable<ExitOutputs["defer"]>, start: number, n: number): Promise<void> {
  const feeds = Object.fromEntries(
    defer.exits.map((name) => {
      const x = exits.get(name)!;
      return [x.output.name, feedTensor("float32", x.probs.subarray(start * x.k, (start + n) * x.k), n, [x.k])];
    }),
  );
  const result = await session.run(feeds);
  defer.scores.set(result[DEFER_OUTPUT]!.data as Float32Array, start);
}

/** The prediction of an exit for input `row`, as a class id among the spec's labels. */
export function predictionOf(x: ExitTable, row: number): number {
  return x.classIds[argmax(x.probs, row * x.k, x.k)]!;
}

/**
 * The routing conditions' view of input `row`. Every exit read is added to `read` (the router runs
 * only what its conditions read). With `skip`, reading a skipped exit does not hold, as in the
 * router's fallback when the cloud cannot answer.
 */
export function viewOf(out: ExitOutputs, row: number, read: Set<string>, skip?: ReadonlySet<string>): ExitView {
  const probs = (exit: string) => {
    if (skip?.has(exit)) throw new ExitUnavailable(exit);
    const x = out.exits.get(exit);
    if (!x) throw unknownExit(exit);
    read.add(exit);
    return { info: x, data: x.probs, offset: row * x.k };
  };
  const defer = out.defer
    ? () => {
        read.add(DEFER_READ);
        return out.defer!.scores[row]!;
      }
    : undefined;
  return exitView(probs, out.hardIds, out.labelNames, defer);
}

/** The files a view's reads need (DEFER_READ: the deferral file and what it reads). */
export function readNeeds(out: ExitOutputs, read: Iterable<string>): number {
  let files = 0;
  for (const x of read) files |= x === DEFER_READ ? out.defer!.needs : out.exits.get(x)!.needs;
  return files;
}
