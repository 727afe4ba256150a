import type { OpLowering } from "../graph.js";

/** Inference: dropout is the identity, so it emits nothing. */
export const dropout: OpLowering = (cx) => cx.inputs[0]!;
