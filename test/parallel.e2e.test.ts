/**
 * Data-parallel training (`--workers N`): one step shared by two replicas matches the same step on
 * one thread to float reassociation (batch norm's statistics and dropout's mask are the whole
 * batch's); a run with two workers reaches the accuracy of a run with one, repeats its weights byte
 * for byte, and resumes from a checkpoint to the same weights.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitIrJson, type IrJson } from "../src/codegen/index.js";
import { loadSpec } from "../src/toolchain/load.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { buildBlockModel, type BlockModel } from "../src/runtime/train/builder.js";
import { subset } from "../src/runtime/train/data/dataset.js";
import { registerWasmGradientKernels } from "../src/runtime/train/kernels/index.js";
import { setDropoutStep } from "../src/runtime/train/layers.js";
import { ReplicaGroup } from "../src/runtime/train/parallel/pool.js";
import { silentProgress } from "../src/runtime/train/progress.js";
import { trainModel, TrainingInterrupted } from "../src/runtime/train/recipe.js";
import { loadTrainingData } from "../src/runtime/train/run.js";
import { planStage } from "../src/runtime/train/stage.js";
import { lossDenominators, trainStep, type StepBatch } from "../src/runtime/train/step.js";
import { tf } from "../src/runtime/train/tf.js";

const TRAINING_TIMEOUT_MS = 600_000;
const tmp = mkdtempSync(join(tmpdir(), "meanet-parallel-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await selectBackend("wasm", () => void registerWasmGradientKernels());
});

function exampleIr(): IrJson {
  const r = loadSpec("examples/fashion-mnist.meanet");
  return emitIrJson(r.ir!, r.shapes, r.results);
}

function modelsOf(ir: IrJson, seed: number): Map<string, BlockModel> {
  return new Map(ir.blocks.map((b) => [b.name, buildBlockModel(ir, b, seed)]));
}

/** Every weight of a block (trainable and moving statistics) as flat arrays. */
function weightValues(bm: BlockModel): Float32Array[] {
  return bm.model.weights.map((w) => Float32Array.from(w.read().dataSync()));
}

describe("data-parallel training", () => {
  it(
    "one step of the cloud block (batch norm, dropout) on two replicas equals the step on one thread up to float reassociation",
    async () => {
      const ir = exampleIr();
      const cloudStage = ir.training.stages.findIndex((s) => s.name === "cloud");
      const data = loadTrainingData(ir, { limitTrain: 200, limitTest: 1 });
      // A batch whose size does not split evenly, of real images in a random order.
      const batch = subset(data.train, [...Array(67).keys()].map((i) => (i * 37) % 200));
      const run = async (workers: number) => {
        const models = modelsOf(ir, 7);
        const plan = planStage(ir, models, cloudStage, 1, data.train, null);
        const before = weightValues(models.get("cloud")!);
        const optimizer = tf.train.sgd(0.5);
        const whole: StepBatch = { images: batch.images, labels: batch.labels, count: batch.count, denominators: lossDenominators(plan, batch.labels), decay: true };
        setDropoutStep(11);
        let out: { loss: number; hits: number };
        if (workers === 1) out = trainStep(ir, models, plan, optimizer, 1e-3, whole);
        else {
          const group = await ReplicaGroup.start(ir, 7, "wasm", workers, models);
          try {
            group.startStage(plan, [], models);
            out = group.step(ir, models, plan, optimizer, 1e-3, whole, 11);
          } finally {
            await group.close();
          }
        }
        const after = weightValues(models.get("cloud")!);
        optimizer.dispose();
        for (const bm of models.values()) bm.model.dispose();
        return { out, deltas: after.map((a, i) => a.map((v, j) => v - before[i]![j]!)) };
      };
      const one = await run(1);
      const two = await run(2);
      expect(two.out.hits).toBe(one.out.hits);
      expect(Math.abs(two.out.loss - one.out.loss)).toBeLessThan(1e-5 * Math.abs(one.out.loss));
      expect(one.deltas.length).toBeGreaterThan(10);
      one.deltas.forEach((d1, i) => {
        const d2 = two.deltas[i]!;
        const scale = d1.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        // Every weight moved (gradients and moving statistics), and both runs moved it alike.
        expect(scale).toBeGreaterThan(0);
        let worst = 0;
        for (let j = 0; j < d1.length; j++) worst = Math.max(worst, Math.abs(d1[j]! - d2[j]!));
        expect(worst / scale).toBeLessThan(1e-3);
      });
    },
    TRAINING_TIMEOUT_MS,
  );

  it(
    "two workers: the accuracy of one, the same weights again with the same seed, and a resumed run ends where an uninterrupted one does",
    async () => {
      const full = exampleIr();
      const stages = full.training.stages.filter((s) => s.name === "main").map((s) => ({ ...s, epochs: 2 }));
      const ir = { ...full, training: { ...full.training, stages } };
      const text = JSON.stringify(ir);
      const data = loadTrainingData(ir, { limitTrain: 3000, limitTest: 1000 });
      const opts = { ir, irText: text, train: data.train, test: data.test, dataSource: data.source, backend: "wasm", progress: silentProgress };
      const weights = (dir: string) => readFileSync(join(dir, "weights", "main", "weights.bin"));
      const one = await trainModel({ ...opts, outDir: join(tmp, "w1") });
      const two = await trainModel({ ...opts, workers: 2, outDir: join(tmp, "w2") });
      await trainModel({ ...opts, workers: 2, outDir: join(tmp, "w2-again") });
      await expect(trainModel({ ...opts, workers: 2, outDir: join(tmp, "w2-resumed"), stopAfterEpochs: 1 })).rejects.toBeInstanceOf(TrainingInterrupted);
      await trainModel({ ...opts, workers: 2, outDir: join(tmp, "w2-resumed") });

      expect(one.workers).toBe(1);
      expect(two.workers).toBe(2);
      const accuracy = (r: typeof one) => r.exits.find((e) => e.name === "main")!.accuracy;
      expect(accuracy(one)).toBeGreaterThan(0.7);
      expect(Math.abs(accuracy(two) - accuracy(one))).toBeLessThan(0.03);
      // Not the same bytes as one worker (the sums are associated differently), but the same with two.
      expect(weights(join(tmp, "w2")).equals(weights(join(tmp, "w1")))).toBe(false);
      expect(weights(join(tmp, "w2-again")).equals(weights(join(tmp, "w2")))).toBe(true);
      expect(weights(join(tmp, "w2-resumed")).equals(weights(join(tmp, "w2")))).toBe(true);
    },
    TRAINING_TIMEOUT_MS,
  );
});
