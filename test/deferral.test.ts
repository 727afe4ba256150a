/**
 * The deferral stage's fitting (src/runtime/train/deferral.ts) on synthetic examples: deterministic,
 * the shipped (folded) weights give the scores training computed, and it learns a rule that can be
 * learned. The ONNX file of such a model is checked against `deferScore` in deferOnnx.test.ts.
 */
import { describe, expect, it } from "vitest";
import { deferScore, featureCount, writeFeatures } from "../src/format/defer.js";
import type { IrJson, TrainStage } from "../src/format/ir.js";
import { fitDeferral, trainDeferral } from "../src/runtime/train/deferral.js";
import { mulberry32 } from "../src/runtime/train/data/rng.js";
import { MeanetError } from "../src/diagnostics/index.js";

function stage(hidden: number, epochs = 200): TrainStage {
  return { name: "defer", train: [], freeze: [], data: "all", epochs, batch: 64, optimizer: { kind: "adam", lr: 0.01, weightDecay: 0 }, schedule: { kind: "constant" }, seed: 0, lossWeights: undefined, augment: "none", defer: { hidden } };
}

/** n samples over exits of widths 10 and 5: random softmax outputs; the target is 1 for most uncertain first exits. */
function examples(n: number, seed: number) {
  const rng = mulberry32(seed);
  const widths = [10, 5];
  const f = featureCount(widths);
  const x = new Float64Array(n * f);
  const y = new Float64Array(n);
  let positives = 0;
  for (let r = 0; r < n; r++) {
    const probs = widths.map((k) => {
      const scale = rng() * 6;
      const logits = Array.from({ length: k }, () => rng() * scale);
      const top = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - top));
      const s = e.reduce((a, b) => a + b, 0);
      return Float32Array.from(e, (v) => v / s);
    });
    writeFeatures(probs.map((data, i) => ({ data, offset: 0, k: widths[i]! })), x, r * f);
    const top = Math.max(...probs[0]!);
    if (top < 0.3 && rng() < 0.9) {
      y[r] = 1;
      positives++;
    }
  }
  return { x, y, positives, exits: [{ name: "main", k: 10 }, { name: "extension", k: 5 }] };
}

/** The share of (positive, negative) pairs the scores order correctly. */
function auc(scores: ArrayLike<number>, y: ArrayLike<number>): number {
  let good = 0;
  let pairs = 0;
  for (let i = 0; i < y.length; i++) {
    if (!y[i]) continue;
    for (let j = 0; j < y.length; j++) {
      if (y[j]) continue;
      pairs++;
      good += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return good / pairs;
}

describe("the deferral stage's fit", () => {
  for (const hidden of [0, 8]) {
    it(`is deterministic, ships the scores it trained, and learns a learnable rule (hidden ${hidden})`, () => {
      const ex = examples(600, 3);
      expect(ex.positives).toBeGreaterThan(30);
      const rows = { from: 0, to: 600, of: 1200 };
      const a = fitDeferral(ex, stage(hidden), 5, rows);
      const b = fitDeferral(ex, stage(hidden), 5, rows);
      expect(JSON.stringify(b.model)).toBe(JSON.stringify(a.model));
      // Another seed starts elsewhere (a check that the seed is used).
      if (hidden > 0) expect(JSON.stringify(fitDeferral(ex, stage(hidden), 6, rows).model.w1)).not.toBe(JSON.stringify(a.model.w1));
      const f = featureCount([10, 5]);
      let worst = 0;
      for (let r = 0; r < 600; r++) worst = Math.max(worst, Math.abs(deferScore(a.model, ex.x.subarray(r * f, (r + 1) * f)) - a.scores[r]!));
      expect(worst).toBeLessThan(1e-9);
      expect(new Set(a.scores).size).toBeGreaterThan(100);
      // On fresh samples of the same rule, the fitted model ranks the positives first.
      const fresh = examples(600, 4);
      const scores = Array.from({ length: 600 }, (_, r) => deferScore(a.model, fresh.x.subarray(r * f, (r + 1) * f)));
      expect(auc(scores, fresh.y)).toBeGreaterThan(0.85);
      expect(a.model.training).toMatchObject({ stage: "defer", samples: 600, positives: ex.positives, rows });
    });
  }

  it("refuses a held-out split too small to fit on, naming the stage", () => {
    const validation = { images: new Uint8Array(19 * 784), labels: new Int32Array(19), count: 19, height: 28, width: 28, channels: 1 };
    const run = () => trainDeferral({} as IrJson, new Map(), validation as never, [], stage(8), 1);
    expect(run).toThrow(MeanetError);
    expect(run).toThrow(/the deferral stage `defer` is fitted on the first half of the held-out images: 9 of 19, and it needs at least 10; hold out more/);
    try {
      run();
    } catch (e) {
      expect((e as MeanetError).code).toBe("MN5004");
    }
  });
});
