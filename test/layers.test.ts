import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../src/runtime/train/backend.js";
import { BatchNorm, channelMean, channelSum } from "../src/runtime/train/layers.js";
import { registerWasmGradientKernels } from "../src/runtime/train/kernels/index.js";
import { tf } from "../src/runtime/train/tf.js";

function relErr(a: tf.Tensor, b: tf.Tensor): number {
  const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
  const m = tf.max(tf.abs(b)).dataSync()[0]!;
  return d / Math.max(m, 1e-12);
}

/** Our closed-form batch-norm gradient against tfjs-layers' BatchNormalization on the cpu backend. */
describe("BatchNorm layer", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  for (const shape of [[4, 5, 5, 3], [8, 7, 7, 16], [16, 10]]) {
    it(`training-mode output and gradients match tfjs for ${shape.join("×")}`, () => {
      const c = shape[shape.length - 1]!;
      const x = tf.randomNormal(shape, 0.5, 2, "float32", 11);
      const r = tf.randomNormal(shape, 0, 1, "float32", 12);
      const gamma = tf.randomUniform([c], 0.5, 1.5, "float32", 13);
      const beta = tf.randomNormal([c], 0, 1, "float32", 14);
      const ours = new BatchNorm({ momentum: 0.1, epsilon: 1e-3 });
      const ref = tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-3 });
      ours.build(x.shape);
      ref.build(x.shape);
      for (const layer of [ours, ref]) layer.setWeights([gamma, beta, tf.zeros([c]), tf.ones([c])]);
      const grads = (layer: tf.layers.Layer) =>
        tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, r)) as tf.Scalar, layer.trainableWeights.map((w) => w.read() as tf.Variable));
      const dx = (layer: tf.layers.Layer) => tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi, { training: true }) as tf.Tensor, r)))(x);
      expect(relErr(ours.apply(x, { training: true }) as tf.Tensor, ref.apply(x, { training: true }) as tf.Tensor)).toBeLessThan(1e-5);
      expect(relErr(dx(ours), dx(ref))).toBeLessThan(1e-4);
      const go = grads(ours).grads;
      const gr = grads(ref).grads;
      const keys = Object.keys(go);
      expect(keys).toHaveLength(2);
      for (const [ko, kr] of keys.map((k, i) => [k, Object.keys(gr)[i]!])) expect(relErr(go[ko!]!, gr[kr!]!)).toBeLessThan(1e-5);
      // Moving statistics: same update under the two momentum conventions.
      const [, , mo, vo] = ours.getWeights();
      const [, , mr, vr] = ref.getWeights();
      expect(relErr(mo!, mr!)).toBeLessThan(1e-5);
      expect(relErr(vo!, vr!)).toBeLessThan(1e-5);
    });
  }

  it("inference mode uses the moving statistics", () => {
    const x = tf.randomNormal([2, 3, 3, 4], 0, 1, "float32", 5);
    const bn = new BatchNorm({ momentum: 0.1, epsilon: 1e-5 });
    bn.build(x.shape);
    bn.setWeights([tf.fill([4], 2), tf.fill([4], 1), tf.fill([4], 0.5), tf.fill([4], 4)]);
    const y = bn.apply(x, { training: false }) as tf.Tensor;
    const want = tf.add(tf.mul(tf.div(tf.sub(x, 0.5), Math.sqrt(4 + 1e-5)), 2), 1);
    expect(relErr(y, want)).toBeLessThan(1e-6);
  });
});

/** The per-channel reductions of batch norm on the wasm backend, where they pool instead of summing. */
describe("channel sums on wasm", () => {
  beforeAll(async () => {
    await selectBackend("wasm", (name) => void (name === "wasm" && registerWasmGradientKernels()));
  });

  for (const shape of [[3, 5, 7, 4], [16, 28, 28, 8], [6, 9], [2, 1, 1, 3]]) {
    it(`match a plain sum in float64 for ${shape.join("×")}`, () => {
      const c = shape[shape.length - 1]!;
      const x = tf.randomNormal(shape, 0.3, 2, "float32", 21);
      const values = x.dataSync();
      const want = new Float64Array(c);
      values.forEach((v, i) => (want[i % c] += v));
      const n = values.length / c;
      const sum = channelSum(x).dataSync();
      const mean = channelMean(x).dataSync();
      expect(sum).toHaveLength(c);
      const scale = Math.max(...want.map(Math.abs), 1);
      for (let k = 0; k < c; k++) {
        expect(Math.abs(sum[k]! - want[k]!) / scale, `channel ${k}`).toBeLessThan(1e-5);
        expect(Math.abs(mean[k]! - want[k]! / n) / (scale / n), `channel ${k}`).toBeLessThan(1e-5);
      }
    });
  }
});
