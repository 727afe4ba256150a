import * as ort from "onnxruntime-node";
import { DataType, encodeModel, valueInfo } from "../../src/codegen/onnx/proto.js";

/** onnxruntime's own Cast of float32 values to float16, as their 16 bits. */
export async function ortHalfCast(values: Float32Array): Promise<Uint16Array> {
  const model = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "cast",
      node: [{ name: "c", opType: "Cast", input: ["x"], output: ["y"], attribute: [{ name: "to", type: 2, i: DataType.FLOAT16 }] }],
      input: [valueInfo("x", DataType.FLOAT, [values.length])],
      output: [valueInfo("y", DataType.FLOAT16, [values.length])],
    },
  });
  const s = await ort.InferenceSession.create(model);
  const y = (await s.run({ x: new ort.Tensor("float32", values, [values.length]) })).y!.data as Uint16Array;
  await s.release();
  return y;
}
