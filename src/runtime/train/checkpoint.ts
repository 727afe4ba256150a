/**
 * The checkpoint a training run leaves after every epoch (blocks' weights, the optimizer's state,
 * where the run is), so an interrupted run resumes from its last finished epoch and ends where an
 * uninterrupted one would.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BlockModel } from "./builder.js";
import type { DeferralModel } from "../../format/defer.js";
import type { Progress } from "./progress.js";
import type { StageReport } from "./report.js";
import { concatFloat32 } from "./flat.js";
import { tf } from "./tf.js";
import { restoreWeights, saveModel } from "./weights.js";

export interface CheckpointState {
  format: "meanet-checkpoint";
  version: 1;
  fingerprint: string;
  /** The stage to run next, and how many of its epochs are done. */
  stage: number;
  epochsDone: number;
  /** Batches trained so far over all stages (it steps dropout's random masks). */
  globalStep: number;
  hardClasses: number[] | null;
  perClassAccuracy: number[] | null;
  /** The finished stages. */
  stages: StageReport[];
  /** The running totals of the stage under way. */
  current: { samples: number; seconds: number; loss: number };
  /** The deferral model, once its stage has run. */
  deferral?: DeferralModel;
}

/** What a checkpoint must match to be resumed: the same training view of the spec (format/trainingView.ts), seed, epoch count and data sizes. */
export function checkpointFingerprint(view: string, seed: number, epochs: number | undefined, trainCount: number, testCount: number): string {
  return createHash("sha256").update(JSON.stringify([view, seed, epochs ?? null, trainCount, testCount])).digest("hex");
}

/** The state of a run that has trained nothing yet. */
export function freshState(fingerprint: string, hardClasses: number[] | null): CheckpointState {
  return { format: "meanet-checkpoint", version: 1, fingerprint, stage: 0, epochsDone: 0, globalStep: 0, hardClasses, perClassAccuracy: null, stages: [], current: { samples: 0, seconds: 0, loss: NaN } };
}

/** Writes the checkpoint beside the old one, then swaps it in. The optimizer's state is saved when given (mid-stage). */
export async function saveCheckpoint(dir: string, state: CheckpointState, models: Map<string, BlockModel>, optimizer: tf.Optimizer | undefined): Promise<void> {
  const next = `${dir}.next`;
  rmSync(next, { recursive: true, force: true });
  mkdirSync(next, { recursive: true });
  for (const [name, bm] of models) await saveModel(bm.model, join(next, "blocks", name));
  if (optimizer) await saveOptimizer(next, optimizer);
  writeFileSync(join(next, "state.json"), JSON.stringify(state, null, 1));
  // Swap in the new checkpoint; a crash in between leaves `.old`, which loading falls back to.
  const old = `${dir}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(next, dir);
  rmSync(old, { recursive: true, force: true });
}

/**
 * The state of the checkpoint in `dir` (or the `.old` one a crash left), with the blocks' weights
 * restored into `models`; undefined when there is none, it cannot be read, or it is of another run.
 */
export async function loadCheckpoint(dir: string, fingerprint: string, models: Map<string, BlockModel>, progress: Progress): Promise<CheckpointState | undefined> {
  const use = existsSync(join(dir, "state.json")) ? dir : existsSync(join(`${dir}.old`, "state.json")) ? `${dir}.old` : undefined;
  if (!use) return undefined;
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(join(use, "state.json"), "utf8")) as CheckpointState;
  } catch {
    progress.info(`ignoring an unreadable checkpoint in ${use}; training from the start`);
    return undefined;
  }
  if (state.fingerprint !== fingerprint) {
    progress.info(`ignoring the checkpoint in ${use}: it is of another spec, seed, epoch count or data; training from the start`);
    return undefined;
  }
  for (const [name, bm] of models) await restoreWeights(bm.model, join(use, "blocks", name));
  return state;
}

/**
 * Where the checkpoint in `dir` (or the `.old` one a crash left) stands, read without restoring
 * anything: the stage to run next and its epochs done, and the stages finished. Undefined when
 * there is no readable checkpoint.
 */
export function checkpointPosition(dir: string): Pick<CheckpointState, "stage" | "epochsDone" | "stages"> | undefined {
  for (const d of [dir, `${dir}.old`]) {
    try {
      const { stage, epochsDone, stages } = JSON.parse(readFileSync(join(d, "state.json"), "utf8")) as CheckpointState;
      return { stage, epochsDone, stages };
    } catch {
      // none here, or unreadable: the next place, as loadCheckpoint looks
    }
  }
  return undefined;
}

/** optimizer.json (names and shapes) and optimizer.bin (the float32 values, in that order). */
async function saveOptimizer(dir: string, optimizer: tf.Optimizer): Promise<void> {
  const named = [...(await optimizer.getWeights()), ...exactState(optimizer).map(([name, v]) => ({ name, tensor: v }))];
  const specs: { name: string; shape: number[] }[] = [];
  const chunks: Float32Array[] = [];
  for (const { name, tensor } of named) {
    specs.push({ name, shape: tensor.shape });
    chunks.push((await tensor.data()) as Float32Array);
  }
  const buf = concatFloat32(chunks);
  writeFileSync(join(dir, "optimizer.json"), JSON.stringify(specs));
  writeFileSync(join(dir, "optimizer.bin"), new Uint8Array(buf.buffer));
}

/** Loads the optimizer's state saved by saveCheckpoint, if there is one. */
export async function restoreOptimizer(dir: string, optimizer: tf.Optimizer): Promise<void> {
  const specsPath = join(dir, "optimizer.json");
  if (!existsSync(specsPath)) return;
  const specs = JSON.parse(readFileSync(specsPath, "utf8")) as { name: string; shape: number[] }[];
  const raw = readFileSync(join(dir, "optimizer.bin"));
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  let off = 0;
  const named = specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const tensor = tf.tensor(all.subarray(off, off + n), s.shape);
    off += n;
    return { name: s.name, tensor };
  });
  const exact = new Map(exactState(optimizer));
  await optimizer.setWeights(named.filter((n) => !exact.has(n.name)));
  // tfjs recomputes Adam's β powers as pow(β, t+1) on restore; the running products differ in the last bits, so restore those exactly.
  for (const n of named) exact.get(n.name)?.assign(n.tensor as tf.Scalar);
}

/** Optimizer state tfjs' getWeights leaves out: Adam's running products of β1 and β2. */
function exactState(optimizer: tf.Optimizer): [string, tf.Variable][] {
  const o = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  return o.accBeta1 && o.accBeta2 ? [["meanet/adam/accBeta1", o.accBeta1], ["meanet/adam/accBeta2", o.accBeta2]] : [];
}
