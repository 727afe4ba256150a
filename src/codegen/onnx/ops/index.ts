import type { OpLowering } from "../graph.js";
import { relu, relu6 } from "./activations.js";
import { add } from "./add.js";
import { batchnorm } from "./batchnorm.js";
import { concat } from "./concat.js";
import { conv2d } from "./conv2d.js";
import { dense } from "./dense.js";
import { depthwiseConv2d } from "./depthwiseConv2d.js";
import { dropout } from "./dropout.js";
import { flatten } from "./flatten.js";
import { pad } from "./pad.js";
import { avgPool, globalAvgPool, maxPool } from "./pool.js";
import { softmax } from "./softmax.js";

/** ONNX lowering per IR op, keyed like src/ir/ops. */
export const LOWERINGS: Record<string, OpLowering> = {
  conv2d,
  depthwise_conv2d: depthwiseConv2d,
  batchnorm,
  relu,
  relu6,
  add,
  concat,
  max_pool: maxPool,
  avg_pool: avgPool,
  global_avg_pool: globalAvgPool,
  dense,
  dropout,
  flatten,
  pad,
  softmax,
};
