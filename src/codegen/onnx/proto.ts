/**
 * The ONNX protobuf schema (the `onnx-proto` package) and small constructors over it. Everything
 * the exporter writes goes through here, so field choices (raw little-endian data, int64 as
 * numbers) are made once.
 */
import onnxProto from "onnx-proto";

export const onnx = onnxProto.onnx;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ModelProto = onnxProto.onnx.IModelProto;

export const IR_VERSION = 8;
export const OPSET = 17;

export const DataType = onnx.TensorProto.DataType;
export type DataTypeCode = onnxProto.onnx.TensorProto.DataType;

export type AttrInput = number | number[] | string | { floats: number[] } | { float: number };

/** Attributes from plain values: integers and integer lists as INT(S); `{float}` / `{floats}` for reals. */
export function attributes(attrs: Record<string, AttrInput>): AttributeProto[] {
  const A = onnx.AttributeProto.AttributeType;
  return Object.entries(attrs).map(([name, v]) => {
    if (typeof v === "string") return { name, type: A.STRING, s: new TextEncoder().encode(v) };
    if (typeof v === "number") {
      if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; pass {float: ${v}}`);
      return { name, type: A.INT, i: v };
    }
    if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
    if ("float" in v) return { name, type: A.FLOAT, f: v.float };
    return { name, type: A.FLOATS, floats: v.floats };
  });
}

/** A float32 initializer, stored as raw little-endian bytes. */
export function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(", ")}]`);
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return { name, dims, dataType: DataType.FLOAT, rawData: bytes };
}

/** An initializer of 8- or 32-bit integers (int8 weights, uint8 zero points, int32 biases), as raw little-endian bytes. */
export function intTensor(name: string, dims: number[], data: Int8Array | Uint8Array | Int32Array): TensorProto {
  if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(", ")}]`);
  const dataType = data instanceof Int8Array ? DataType.INT8 : data instanceof Uint8Array ? DataType.UINT8 : DataType.INT32;
  const rawData = new Uint8Array(data.byteLength);
  rawData.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { name, dims, dataType, rawData };
}

/** An int64 initializer (shapes, axes). */
export function int64Tensor(name: string, dims: number[], data: number[]): TensorProto {
  const bytes = new Uint8Array(data.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(data[i]!), true);
  return { name, dims, dataType: DataType.INT64, rawData: bytes };
}

/** A graph input or output: element type and shape, where a string dimension is symbolic (the batch). */
export function valueInfo(name: string, elemType: DataTypeCode, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) } } },
  };
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** Bytes of a model's initializers: what its weights take in the file. */
export function initializerBytes(bytes: Uint8Array): number {
  return (decodeModel(bytes).graph?.initializer ?? []).reduce((n, t) => n + (t.rawData?.byteLength ?? 0), 0);
}
