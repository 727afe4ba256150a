import { concatFloat32 } from "./flat.js";
import type { Collective } from "./parallel/collective.js";
import { currentShard } from "./parallel/shard.js";
import { tf, type Tensor } from "./tf.js";

type Kwargs = Record<string, unknown>;

/** Constant padding of an NHWC map; max pooling pads with −∞ so padding never wins the max. */
export class Pad2D extends tf.layers.Layer {
  static className = "MeanetPad2D";
  readonly pad: [number, number, number, number];
  readonly value: number;
  /** Channels of `value` added after the last (the `pad` op; 0 for a convolution's or pool's padding). */
  readonly channels: number;

  constructor(config: { pad: [number, number, number, number]; value: number; channels?: number; name?: string }) {
    super(config);
    this.pad = config.pad;
    this.value = config.value;
    this.channels = config.channels ?? 0;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = s as tf.Shape;
    const [t, b, l, r] = this.pad;
    return [shape[0]!, shape[1] == null ? null : shape[1] + t + b, shape[2] == null ? null : shape[2] + l + r, shape[3] == null ? null : shape[3] + this.channels];
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const [t, b, l, r] = this.pad;
    return tf.pad(x, [[0, 0], [t, b], [l, r], [0, this.channels]], this.value);
  }

  override getConfig(): tf.serialization.ConfigDict {
    // `channels` only when set, so the padding layers of convolutions and pools keep their config.
    return { ...super.getConfig(), pad: this.pad, value: this.value, ...(this.channels ? { channels: this.channels } : {}) };
  }
}

/** Output size of a sliding window along one axis (null stays null: an unknown size). */
function windowSize(n: number | null, kernel: number, stride: number, padding: "same" | "valid", dilation: number): number | null {
  if (n == null) return null;
  const eff = (kernel - 1) * dilation + 1;
  return padding === "same" ? Math.ceil(n / stride) : Math.floor((n - eff) / stride) + 1;
}

/** Convolution with channel groups (groups > 1), which tfjs layers lack: one convolution per group. */
export class GroupedConv2D extends tf.layers.Layer {
  static className = "MeanetGroupedConv2D";
  readonly filters: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: "same" | "valid";
  readonly groups: number;
  readonly dilation: number;
  readonly useBias: boolean;
  readonly seed: number;
  private kernelWeight!: tf.LayerVariable;
  private biasWeight: tf.LayerVariable | undefined;

  constructor(config: { filters: number; kernel: number; stride: number; padding: "same" | "valid"; groups: number; dilation: number; useBias: boolean; seed: number; name?: string }) {
    super(config);
    this.filters = config.filters;
    this.kernel = config.kernel;
    this.stride = config.stride;
    this.padding = config.padding;
    this.groups = config.groups;
    this.dilation = config.dilation;
    this.useBias = config.useBias;
    this.seed = config.seed;
  }

  override build(s: tf.Shape | tf.Shape[]): void {
    const shape = s as tf.Shape;
    const cin = shape[3]!;
    this.kernelWeight = this.addWeight("kernel", [this.kernel, this.kernel, cin / this.groups, this.filters], "float32", tf.initializers.heNormal({ seed: this.seed }));
    if (this.useBias) this.biasWeight = this.addWeight("bias", [this.filters], "float32", tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = s as tf.Shape;
    const out = (n: number | null) => windowSize(n, this.kernel, this.stride, this.padding, this.dilation);
    return [shape[0]!, out(shape[1]!), out(shape[2]!), this.filters];
  }

  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const w = this.kernelWeight.read() as tf.Tensor4D;
      const xs = tf.split(x, this.groups, 3);
      const ws = tf.split(w, this.groups, 3);
      const ys = xs.map((xi, g) => tf.conv2d(xi as tf.Tensor4D, ws[g]! as tf.Tensor4D, this.stride, this.padding, "NHWC", this.dilation));
      const y = tf.concat(ys, 3);
      return this.biasWeight ? tf.add(y, this.biasWeight.read()) : y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), filters: this.filters, kernel: this.kernel, stride: this.stride, padding: this.padding, groups: this.groups, dilation: this.dilation, useBias: this.useBias, seed: this.seed };
  }
}

/**
 * Depthwise convolution with dilation > 1: tfjs-layers' DepthwiseConv2D ignores `dilationRate`
 * (its call passes none), so a dilated one would silently be built undilated.
 */
export class DilatedDepthwiseConv2D extends tf.layers.Layer {
  static className = "MeanetDilatedDepthwiseConv2D";
  readonly kernel: number;
  readonly stride: number;
  readonly padding: "same" | "valid";
  readonly multiplier: number;
  readonly dilation: number;
  readonly useBias: boolean;
  readonly seed: number;
  private kernelWeight!: tf.LayerVariable;
  private biasWeight: tf.LayerVariable | undefined;

  constructor(config: { kernel: number; stride: number; padding: "same" | "valid"; multiplier: number; dilation: number; useBias: boolean; seed: number; name?: string }) {
    super(config);
    this.kernel = config.kernel;
    this.stride = config.stride;
    this.padding = config.padding;
    this.multiplier = config.multiplier;
    this.dilation = config.dilation;
    this.useBias = config.useBias;
    this.seed = config.seed;
  }

  override build(s: tf.Shape | tf.Shape[]): void {
    const cin = (s as tf.Shape)[3]!;
    this.kernelWeight = this.addWeight("depthwise_kernel", [this.kernel, this.kernel, cin, this.multiplier], "float32", tf.initializers.heNormal({ seed: this.seed }));
    if (this.useBias) this.biasWeight = this.addWeight("bias", [cin * this.multiplier], "float32", tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = s as tf.Shape;
    const out = (n: number | null) => windowSize(n, this.kernel, this.stride, this.padding, this.dilation);
    return [shape[0]!, out(shape[1]!), out(shape[2]!), shape[3]! * this.multiplier];
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const y = tf.depthwiseConv2d(x, this.kernelWeight.read() as tf.Tensor4D, this.stride, this.padding, "NHWC", this.dilation);
      return this.biasWeight ? tf.add(y, this.biasWeight.read()) : y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), kernel: this.kernel, stride: this.stride, padding: this.padding, multiplier: this.multiplier, dilation: this.dilation, useBias: this.useBias, seed: this.seed };
  }
}

/**
 * Runs a Keras Conv2D layer as tf.conv2d (plus its bias and activation) instead of tfjs' fused
 * convolution. The fused op's gradient computes the gradient of its input even when nothing needs
 * it: for a block's first convolution, that is the image's gradient, thrown away (5% of a training
 * step of the example's main block). The gradient tape skips an unfused convolution's input
 * gradient when the input does not depend on a trained weight. Weights, config and the saved model
 * are the layer's own; only `call` changes.
 */
export function unfusedConv2d(layer: tf.layers.Layer): tf.layers.Layer {
  const conv = layer as unknown as {
    kernel: tf.LayerVariable;
    bias: tf.LayerVariable | null;
    strides: [number, number];
    padding: "same" | "valid";
    dilationRate: [number, number];
    activation: { apply(t: Tensor): Tensor };
  };
  layer.call = (inputs: Tensor | Tensor[]) =>
    tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      let y: Tensor = tf.conv2d(x, conv.kernel.read() as tf.Tensor4D, conv.strides, conv.padding, "NHWC", conv.dilationRate);
      if (conv.bias) y = tf.add(y, conv.bias.read());
      return conv.activation.apply(y);
    });
  return layer;
}

/**
 * Batch normalisation over the last axis with the same weights as Keras' layer (gamma, beta,
 * moving_mean, moving_variance). In training its gradient is the closed form below: tfjs' generic
 * FusedBatchNorm gradient tiles every per-channel vector to the full activation shape, which was
 * the largest single cost of a training step on wasm.
 */
export class BatchNorm extends tf.layers.Layer {
  static className = "MeanetBatchNorm";
  readonly momentum: number;
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;
  private movingMean!: tf.LayerVariable;
  private movingVariance!: tf.LayerVariable;

  /** `momentum` weighs the new batch in the moving averages (the PyTorch convention). */
  constructor(config: { momentum: number; epsilon: number; name?: string }) {
    super(config);
    this.momentum = config.momentum;
    this.epsilon = config.epsilon;
  }

  override build(s: tf.Shape | tf.Shape[]): void {
    const shape = s as tf.Shape;
    const c = [shape[shape.length - 1]!];
    this.gamma = this.addWeight("gamma", c, "float32", tf.initializers.ones());
    this.beta = this.addWeight("beta", c, "float32", tf.initializers.zeros());
    this.movingMean = this.addWeight("moving_mean", c, "float32", tf.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight("moving_variance", c, "float32", tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return s as tf.Shape;
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const gamma = this.gamma.read();
    const beta = this.beta.read();
    if (!kwargs["training"]) return tf.batchNorm(x, this.movingMean.read(), this.movingVariance.read(), beta, gamma, this.epsilon);
    const channels = x.shape[x.shape.length - 1]!;
    // Data-parallel: the statistics are the global batch's, summed over the replicas; N counts its rows.
    const shard = currentShard();
    const totals = shard ? (ts: Tensor[]) => allReduceTensors(shard.collective, ts) : (ts: Tensor[]) => ts;
    const n = shard ? (x.size / channels / shard.count) * shard.globalCount : x.size / channels;
    const batchMean = (t: Tensor) => (shard ? tf.div(totals([channelSum(t)])[0]!, n) : channelMean(t));
    const mean = batchMean(x);
    const variance = batchMean(tf.square(tf.sub(x, mean)));
    tf.tidy(() => {
      this.movingMean.write(tf.add(tf.mul(this.movingMean.read(), 1 - this.momentum), tf.mul(mean, this.momentum)));
      this.movingVariance.write(tf.add(tf.mul(this.movingVariance.read(), 1 - this.momentum), tf.mul(variance, this.momentum)));
    });
    const eps = this.epsilon;
    const normalise = tf.customGrad(((xi: Tensor, g: Tensor, b: Tensor, save: (ts: Tensor[]) => void) => {
      const invStd = tf.rsqrt(tf.add(variance, eps));
      const xhat = tf.mul(tf.sub(xi, mean), invStd);
      save([xhat, invStd, g]);
      return {
        value: tf.add(tf.mul(xhat, g), b),
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const [xh, inv, gm] = saved as [Tensor, Tensor, Tensor];
          // γ's and β's gradients are this shard's share (the replicas' gradients are summed later);
          // dx needs the whole batch's sums.
          const dBeta = channelSum(dy);
          const dGamma = channelSum(tf.mul(dy, xh));
          // dx = γ·σ⁻¹/N · (N·dy − Σdy − x̂·Σ(dy·x̂)): the batch statistics depend on x too.
          const scale = tf.div(tf.mul(gm, inv), n);
          const [sumDy, sumDyXh] = totals([dBeta, dGamma]) as [Tensor, Tensor];
          const dx = tf.mul(scale, tf.sub(tf.sub(tf.mul(dy, n), sumDy), tf.mul(xh, sumDyXh)));
          return [dx, dGamma, dBeta];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: Tensor, b: Tensor, c: Tensor) => Tensor;
    return normalise(x, gamma, beta);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}

/** The replicas' sums of `ts` (float32 tensors), in one meeting. */
function allReduceTensors(collective: Collective, ts: Tensor[]): Tensor[] {
  const sum = collective.allReduce(concatFloat32(ts.map((t) => t.dataSync() as Float32Array)));
  let at = 0;
  return ts.map((t) => {
    const out = tf.tensor(sum.subarray(at, at + t.size), t.shape, "float32");
    at += t.size;
    return out;
  });
}

let dropoutStep = 0;

/** The training loop sets the global step so each batch draws a fresh, reproducible dropout mask. */
export function setDropoutStep(step: number): void {
  dropoutStep = step;
}

/**
 * Dropout whose mask depends on (layer seed, global step): tfjs' own seeded dropout draws the same
 * mask on every call, and its unseeded one cannot be reproduced.
 */
export class SeededDropout extends tf.layers.Layer {
  static className = "MeanetDropout";
  readonly rate: number;
  readonly seed: number;

  constructor(config: { rate: number; seed: number; name?: string }) {
    super(config);
    this.rate = config.rate;
    this.seed = config.seed;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return s as tf.Shape;
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!kwargs["training"] || this.rate === 0) return x.clone();
    const seed = (Math.imul(this.seed ^ 0x5bd1e995, 31) + dropoutStep * 0x9e3779b1) >>> 0;
    const shard = currentShard();
    if (!shard) return tf.dropout(x, this.rate, undefined, seed);
    // Data-parallel: the global batch's mask (as tf.dropout draws it), cut to this shard's rows.
    const keep = 1 - this.rate;
    const mask = tf.div(tf.floor(tf.add(tf.randomUniform([shard.globalCount, ...x.shape.slice(1)], 0, 1, "float32", seed), keep)), keep);
    return tf.mul(x, tf.slice(mask, shard.offset, shard.count));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

let registered = false;

/** Makes the custom layers loadable by tf.loadLayersModel. */
export function registerCustomLayers(): void {
  if (registered) return;
  registered = true;
  tf.serialization.registerClass(Pad2D);
  tf.serialization.registerClass(GroupedConv2D);
  tf.serialization.registerClass(DilatedDepthwiseConv2D);
  tf.serialization.registerClass(SeededDropout);
  tf.serialization.registerClass(BatchNorm);
}

/** Identity forward, zero gradient: the boundary between blocks when the spec stops the gradient. */
export const stopGradient = tf.customGrad(((x: Tensor) => ({ value: x.clone(), gradFunc: (dy: Tensor) => tf.zerosLike(dy) })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: Tensor) => Tensor;

/**
 * Σ over every axis but the last (the channels) of `t`. The wasm backend reduces only along the
 * last axis, so tf.sum over the leading axes of an NHWC map first transposes the whole map; an
 * average pool over the full H×W window reads it once in place, leaving a small [N, C] sum. For
 * the example's batch-norm layers this is about 10× faster than tf.sum.
 */
export function channelSum(t: Tensor): Tensor {
  return tf.tidy(() => {
    if (t.rank !== 4) return tf.sum(t, t.shape.slice(0, -1).map((_, i) => i));
    const [b, h, w, c] = t.shape as [number, number, number, number];
    const perImage = tf.reshape(tf.avgPool(t as tf.Tensor4D, [h, w], 1, "valid"), [b, c]);
    return tf.mul(tf.sum(perImage, 0), h * w);
  });
}

/** The mean over every axis but the last, as `channelSum`. */
export function channelMean(t: Tensor): Tensor {
  return tf.tidy(() => tf.div(channelSum(t), t.size / t.shape[t.shape.length - 1]!));
}
