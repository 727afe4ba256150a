import { tf, type Tensor } from "./tf.js";

type Kwargs = Record<string, unknown>;

/** Constant padding of an NHWC map; max pooling pads with −∞ so padding never wins the max. */
export class Pad2D extends tf.layers.Layer {
  static className = "MeanetPad2D";
  readonly pad: [number, number, number, number];
  readonly value: number;

  constructor(config: { pad: [number, number, number, number]; value: number; name?: string }) {
    super(config);
    this.pad = config.pad;
    this.value = config.value;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = s as tf.Shape;
    const [t, b, l, r] = this.pad;
    return [shape[0]!, shape[1] == null ? null : shape[1] + t + b, shape[2] == null ? null : shape[2] + l + r, shape[3]!];
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const [t, b, l, r] = this.pad;
    return tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]], this.value);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), pad: this.pad, value: this.value };
  }
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
    const out = (n: number | null) => {
      if (n == null) return null;
      const eff = (this.kernel - 1) * this.dilation + 1;
      return this.padding === "same" ? Math.ceil(n / this.stride) : Math.floor((n - eff) / this.stride) + 1;
    };
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
    return tf.dropout(x, this.rate, undefined, seed);
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
  tf.serialization.registerClass(SeededDropout);
}

/** Identity forward, zero gradient: the boundary between blocks when the spec stops the gradient. */
export const stopGradient = tf.customGrad(((x: Tensor) => ({ value: x.clone(), gradFunc: (dy: Tensor) => tf.zerosLike(dy) })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: Tensor) => Tensor;
