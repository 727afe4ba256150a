/**
 * Rank 0's side of data-parallel training: worker threads that each hold a copy of the blocks on
 * their own tfjs backend, and share every step's batch with this thread. Rank 0 keeps everything
 * else (data, optimizer, checkpoints, validation); the workers compute gradients of their shards.
 */
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import type { IrJson } from "../../../format/ir.js";
import type { BlockModel } from "../builder.js";
import { setDropoutStep } from "../layers.js";
import type { StageGraph } from "../stage.js";
import { replicaStep, type StepBatch } from "../step.js";
import type { tf } from "../tf.js";
import { Collective, groupMemory, ReplicaFailure, type GroupMemory } from "./collective.js";
import { setShard } from "./shard.js";

/** What rank 0 tells a worker. */
export type ReplicaMessage =
  | { type: "stage"; index: number; hard: number[]; weights: Float32Array[][] }
  | { type: "step"; images: Uint8Array; labels: Int32Array; count: number; offset: number; globalCount: number; denominators: number[]; dropoutStep: number };

/** What a worker tells rank 0. */
export type ReplicaReply = { type: "ready" } | { type: "error"; message: string };

export interface ReplicaInit {
  ir: IrJson;
  seed: number;
  backend: string;
  rank: number;
  memory: GroupMemory;
}

/** The workers a run uses when none are asked for: one per core, on the backends that run on one thread. */
export function defaultWorkers(backend: string): number {
  return backend === "wasm" || backend === "cpu" ? availableParallelism() : 1;
}

/** Rows [offset, offset + count) of a batch of `total` for replica `rank` of `size`. */
export function shardRows(total: number, rank: number, size: number): { offset: number; count: number } {
  const offset = Math.floor((rank * total) / size);
  return { offset, count: Math.floor(((rank + 1) * total) / size) - offset };
}

export class ReplicaGroup {
  private constructor(
    private readonly workers: Worker[],
    readonly collective: Collective,
  ) {}

  get size(): number {
    return this.collective.size;
  }

  /** Starts `size − 1` workers, each building the blocks of `ir` on `backend`; resolves once all are ready. */
  static async start(ir: IrJson, seed: number, backend: string, size: number, models: Map<string, BlockModel>): Promise<ReplicaGroup> {
    // The longest exchange: every trainable weight of the model, plus a loss and a hit count.
    let slotLength = 2;
    for (const bm of models.values()) for (const w of bm.model.trainableWeights) slotLength += w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    const memory = groupMemory(size, slotLength);
    const fromSources = import.meta.url.endsWith(".ts");
    const url = new URL(`./follower${fromSources ? ".ts" : ".js"}`, import.meta.url);
    // From the sources (tests, tsx), the worker registers the TypeScript loader before loading the entry.
    const entry = (workerData: ReplicaInit) =>
      fromSources ? new Worker(`import("tsx/esm/api").then((t) => { t.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true, workerData }) : new Worker(url, { workerData });
    const workers: Worker[] = [];
    try {
      const ready: Promise<void>[] = [];
      for (let rank = 1; rank < size; rank++) {
        const init: ReplicaInit = { ir, seed, backend, rank, memory };
        const w = entry(init);
        workers.push(w);
        ready.push(
          new Promise<void>((resolve, reject) => {
            w.once("message", (m: ReplicaReply) => (m.type === "ready" ? resolve() : reject(new ReplicaFailure(`training worker ${rank} could not start: ${m.message}`))));
            w.once("error", (e) => reject(new ReplicaFailure(`training worker ${rank} could not start: ${e.message}`)));
            w.once("exit", (code) => reject(new ReplicaFailure(`training worker ${rank} exited (code ${code}) before it was ready`)));
          }),
        );
      }
      await Promise.all(ready);
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    for (const w of workers) {
      w.removeAllListeners();
      // A worker that fails mid-step has already told the others through the shared memory; this keeps its error from being unhandled.
      w.on("error", () => {});
    }
    return new ReplicaGroup(workers, new Collective(0, memory));
  }

  /** Gives every worker the blocks' current weights (all of them, moving statistics included) and the stage to train. */
  startStage(graph: StageGraph, hard: number[], models: Map<string, BlockModel>): void {
    const weights = [...models.values()].map((bm) => bm.model.weights.map((w) => w.read().dataSync() as Float32Array));
    for (const w of this.workers) w.postMessage({ type: "stage", index: graph.index, hard, weights } satisfies ReplicaMessage);
  }

  /** One step on `batch`, shared by the replicas: rank 0 trains the first rows itself. */
  step(ir: IrJson, models: Map<string, BlockModel>, graph: StageGraph, optimizer: tf.Optimizer, weightDecay: number, batch: StepBatch, dropoutStep: number): { loss: number; hits: number } {
    const shape = ir.input.shape;
    const pixels = shape[0]! * shape[1]! * shape[2]!;
    for (let rank = 1; rank < this.size; rank++) {
      const { offset, count } = shardRows(batch.count, rank, this.size);
      const message: ReplicaMessage = {
        type: "step",
        images: batch.images.slice(offset * pixels, (offset + count) * pixels),
        labels: batch.labels.slice(offset, offset + count),
        count,
        offset,
        globalCount: batch.count,
        denominators: batch.denominators,
        dropoutStep,
      };
      this.workers[rank - 1]!.postMessage(message);
    }
    const own = shardRows(batch.count, 0, this.size);
    setShard({ collective: this.collective, globalCount: batch.count, offset: 0, count: own.count });
    try {
      const shard: StepBatch = { ...batch, images: batch.images.subarray(0, own.count * pixels), labels: batch.labels.subarray(0, own.count), count: own.count, decay: true };
      setDropoutStep(dropoutStep);
      return replicaStep(ir, models, graph, this.collective, optimizer, weightDecay, shard);
    } finally {
      setShard(undefined);
    }
  }

  /** Stops the workers (waking any that wait for this thread). */
  async close(): Promise<void> {
    this.collective.abort("rank 0 stopped training");
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
