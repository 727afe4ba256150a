/**
 * The tfjs model builder, without training: parameter counts against the IR and seeded initial
 * weights. Training itself is test/train.e2e.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitIrJson, type IrJson } from "../src/codegen/index.js";
import { loadSpec } from "../src/toolchain/load.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { buildBlockModel } from "../src/runtime/train/builder.js";
import { registerWasmGradientKernels } from "../src/runtime/train/kernels/index.js";

beforeAll(async () => {
  await selectBackend("wasm", () => void registerWasmGradientKernels());
});

function irOf(file: string): { ir: IrJson; text: string } {
  const r = loadSpec(file);
  const ir = emitIrJson(r.ir!, r.shapes, r.results);
  return { ir, text: JSON.stringify(ir) };
}

describe("model builder", () => {
  it("tfjs models have exactly the params the IR counts, block by block", () => {
    for (const file of ["examples/fashion-mnist.meanet", "examples/cifar100-resnet32.meanet", "examples/imagenet-mobilenetv2.meanet"]) {
      const { ir } = irOf(file);
      for (const b of ir.blocks) {
        if (b.name === "cloud" && file.includes("imagenet")) continue;
        const m = buildBlockModel(ir, b, 1);
        const trainable = m.model.trainableWeights.reduce((s, w) => s + w.shape.reduce((a, c) => a! * c!, 1)!, 0);
        const counted = b.nodes.reduce((s, n) => s + ir.nodes[n]!.params, 0);
        expect(trainable, `${file} ${b.name}`).toBe(counted);
        for (const [i, id] of m.outputs.entries()) expect(m.model.outputs[i]!.shape.slice(1), `${file} ${b.name} output`).toEqual(ir.tensors[id]!.shape);
        m.model.dispose();
      }
    }
  });

  it("the same seed gives the same initial weights; another seed does not", () => {
    const { ir } = irOf("examples/fashion-mnist.meanet");
    const block = ir.blocks[0]!;
    const [a, b, c] = [1, 1, 2].map((s) => buildBlockModel(ir, block, s));
    const w = (m: typeof a) => m!.model.getWeights().map((t) => Array.from(t.dataSync()));
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    for (const m of [a, b, c]) m!.model.dispose();
  });
});
