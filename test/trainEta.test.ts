/**
 * The time left that the training's epoch line shows, from measured epoch times (no training
 * here; the line itself is checked by test/train.e2e.test.ts).
 */
import { describe, expect, it } from "vitest";
import { emitIrJson } from "../src/codegen/index.js";
import { loadSpec } from "../src/toolchain/load.js";
import { formatDuration, stageWork, timeLeft, timeLeftText, type Pace } from "../src/runtime/train/eta.js";

const r = loadSpec("examples/fashion-mnist.meanet");
const ir = emitIrJson(r.ir!, r.shapes, r.results);
const stages = ir.training.stages;
const epochsOf = (k: number) => stages[k]!.epochs;

describe("the time left in training", () => {
  it("is the stage's mean epoch time for each epoch left, plus later stages at the measured pace scaled by their work per image", () => {
    // Main: 2 of 6 epochs done in 100 s on 9,000 images (4,500 per epoch).
    const p: Pace = { stage: 0, epochsDone: 2, epochs: 6, seconds: 100, samples: 9000, trainImages: 4500, epochsOf };
    const left = timeLeft(ir, p);
    expect(left.stage).toBeCloseTo(200);
    const perWork = 100 / 9000 / stageWork(ir, stages[0]!);
    const extension = 8 * 4500 * 0.5 * stageWork(ir, stages[1]!) * perWork; // data: hard, 5 of 10 classes
    const cloud = 10 * 4500 * stageWork(ir, stages[2]!) * perWork;
    expect(left.run).toBeCloseTo(200 + extension + cloud);
    // The stages' work per image against the speeds the full run measured (933, 520, 295 images/s).
    expect(stageWork(ir, stages[1]!) / stageWork(ir, stages[0]!)).toBeCloseTo(933 / 520, 0);
    expect(stageWork(ir, stages[2]!) / stageWork(ir, stages[0]!)).toBeCloseTo(933 / 295, 0);
  });

  it("in the last stage the run ends with it; --epochs replaces every stage's count", () => {
    const last: Pace = { stage: 2, epochsDone: 3, epochs: 10, seconds: 30, samples: 13500, trainImages: 4500, epochsOf };
    expect(timeLeft(ir, last)).toEqual({ stage: 70, run: 70 });
    const one = timeLeft(ir, { stage: 0, epochsDone: 1, epochs: 1, seconds: 10, samples: 4500, trainImages: 4500, epochsOf: () => 1 });
    expect(one.stage).toBe(0);
    expect(one.run).toBeGreaterThan(10);
  });

  it("reads as the epoch line ends: the stage while epochs are left, the run while stages are left, nothing after the last epoch", () => {
    const pace = (stage: number, epochsDone: number, epochs: number): Pace => ({ stage, epochsDone, epochs, seconds: 12 * epochsDone, samples: 4500 * epochsDone, trainImages: 4500, epochsOf });
    expect(timeLeftText(ir, pace(0, 2, 6))).toMatch(/^48s left in main, ~\d+m \d\ds in the run$/);
    expect(timeLeftText(ir, pace(0, 6, 6))).toMatch(/^~\d+m \d\ds in the run$/);
    expect(timeLeftText(ir, pace(2, 5, 10))).toBe("1m 00s left in cloud");
    expect(timeLeftText(ir, pace(2, 10, 10))).toBeUndefined();
    expect([0.4, 59.6, 61, 3599, 3600, 7290].map(formatDuration)).toEqual(["0s", "1m 00s", "1m 01s", "59m 59s", "1h 00m", "2h 02m"]);
  });
});
