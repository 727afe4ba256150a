/**
 * The parts of `meanet serve` that need no model file and no socket: request parsing for a model
 * with two inputs, and the dynamic batcher with a stand-in runner. The server itself, over HTTP,
 * is test/serve.e2e.test.ts.
 */
import { describe, expect, it } from "vitest";
import { Batcher, type BatchRunner } from "../src/runtime/serve/batcher.js";
import { datatypeOf } from "../src/runtime/serve/datatypes.js";
import type { ServedModel } from "../src/runtime/serve/model.js";
import { HttpError, parseInferRequest } from "../src/runtime/serve/protocol.js";

describe("requests for a model with two inputs", () => {
  // Only the tensor specs matter to parsing; no session is opened.
  const spec = (name: string, dtype: string, shape: number[]) => ({ name, datatype: datatypeOf(dtype)!, shape, size: shape.reduce((a, b) => a * b, 1) });
  const model = { name: "two", version: "1", inputs: [spec("a", "float32", [2]), spec("b", "int8", [3])], outputs: [spec("y", "float32", [1])] } as unknown as ServedModel;
  const a = (n: number) => ({ name: "a", datatype: "FP32", shape: [n, 2], data: new Array(n * 2).fill(0.5) });
  const b = (n: number) => ({ name: "b", datatype: "INT8", shape: [n, 3], data: new Array(n * 3).fill(-128) });
  const problem = (body: unknown) => {
    try {
      parseInferRequest(body, model, 8);
    } catch (e) {
      expect(e).toBeInstanceOf(HttpError);
      return (e as HttpError).message;
    }
    throw new Error("no error");
  };

  it("names a missing input and a batch size the inputs disagree on", () => {
    expect(problem({ inputs: [a(1)] })).toMatch(/missing input `b`/);
    expect(problem({ inputs: [a(2), b(3)] })).toMatch(/inputs disagree on the batch size: `a` has 2, `b` has 3/);
    expect(problem({ inputs: [a(1), { ...b(1), data: [1, 2, 128] }] })).toMatch(/element 2 = 128 is out of range for INT8 \(-128 to 127\)/);
    expect(problem({ inputs: [{ ...a(1), data: [1, true] }, b(1)] })).toMatch(/element 1 is true, not a number/);
    expect(problem({ inputs: [{ ...a(1), data: [1e39, 0] }, b(1)] })).toMatch(/out of range for FP32/);
  });

  it("puts the inputs in the model's order whatever the request's order", () => {
    const r = parseInferRequest({ inputs: [b(2), a(2)], outputs: [{ name: "y" }] }, model, 8);
    expect(r.batch).toBe(2);
    expect(r.inputs[0]).toBeInstanceOf(Float32Array);
    expect(Array.from(r.inputs[1]!)).toEqual(new Array(6).fill(-128));
  });
});

describe("dynamic batching", () => {
  const float = datatypeOf("float32")!;
  const doubler: BatchRunner = async (inputs) => [Float32Array.from(inputs[0]!, (v) => v * 2)];
  const observer = (sizes: number[]) => ({ batch: (s: number) => void sizes.push(s), queue: () => {} });

  it("takes whole requests in arrival order up to max-batch, and splits the results back", async () => {
    const sizes: number[] = [];
    const b = new Batcher(doubler, [{ datatype: float, size: 2 }], [{ datatype: float, size: 2 }], { maxBatch: 8, maxDelayMs: 1000 }, observer(sizes));
    const jobs = [3, 2, 4, 1, 6].map((n, k) => b.submit([Float32Array.from({ length: n * 2 }, (_, i) => k * 100 + i)], n));
    await b.drain();
    const results = await Promise.all(jobs);
    expect(sizes).toEqual([5, 5, 6]);
    for (const [k, r] of results.entries()) expect(Array.from(r.outputs[0]!)).toEqual(Array.from({ length: r.outputs[0]!.length }, (_, i) => (k * 100 + i) * 2));
  });

  it("fails every request of a failing batch, and goes on with the next", async () => {
    let fail = true;
    const runner: BatchRunner = async (inputs, n) => {
      if (fail) throw new Error("boom");
      return doubler(inputs, n);
    };
    const b = new Batcher(runner, [{ datatype: float, size: 1 }], [{ datatype: float, size: 1 }], { maxBatch: 4, maxDelayMs: 0 }, observer([]));
    const failed = await Promise.allSettled([b.submit([Float32Array.of(1)], 1), b.submit([Float32Array.of(2)], 1)]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(Array.from((await b.submit([Float32Array.of(3)], 1)).outputs[0]!)).toEqual([6]);
  });
});
