/**
 * The Open Inference Protocol (KServe v2) REST bodies: parsing and validating an inference request
 * against the served model, and building the metadata and inference responses. Pure functions of
 * their arguments; nothing here touches sockets or onnxruntime, so every check is testable alone.
 *
 * Every problem with a request is an HttpError naming the field and what was expected; the server
 * turns it into `{"error": message}` with its status.
 */
import type { ElementArray } from "./datatypes.js";
import type { ServedModel, TensorSpec } from "./model.js";

export class HttpError extends Error {
  override readonly name = "HttpError";

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const bad = (message: string) => new HttpError(400, message);

/** An inference request that passed every check: one flat array per model input, in the model's order. */
export interface InferRequest {
  id: string | undefined;
  batch: number;
  inputs: ElementArray[];
  /** Indices into the model's outputs, in the order the response lists them. */
  outputs: number[];
  /** Per entry of `outputs`: return it with the binary tensor extension. */
  binary: boolean[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const showShape = (shape: readonly number[]) => `[${shape.join(", ")}]`;
const expectedShape = (spec: TensorSpec) => `[N, ${spec.shape.join(", ")}]`;

function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function parameters(v: unknown, where: string): Json {
  if (v === undefined) return {};
  if (!isObject(v)) throw bad(`${where}\`parameters\` must be a JSON object`);
  return v;
}

/** Stores one value, checking that the datatype can hold it exactly. */
function store(out: ElementArray, index: number, v: unknown, spec: TensorSpec): void {
  const t = spec.datatype;
  if (typeof v !== "number") {
    throw bad(`input \`${spec.name}\`: element ${index} is ${Array.isArray(v) ? "an array where a number belongs" : show(v)}, not a number`);
  }
  if (v < t.min || v > t.max) throw bad(`input \`${spec.name}\`: element ${index} = ${v} is out of range for ${t.name} (${t.min} to ${t.max})`);
  if (t.integer && !Number.isInteger(v)) throw bad(`input \`${spec.name}\`: element ${index} = ${v} is not an integer, as ${t.name} needs`);
  out[index] = t.encode ? t.encode(v) : v;
}

/** Nested data must follow the shape exactly, level by level, in row-major order. */
function storeNested(node: unknown, depth: number, shape: number[], out: ElementArray, at: { i: number }, spec: TensorSpec): void {
  if (depth === shape.length) {
    store(out, at.i++, node, spec);
    return;
  }
  if (!Array.isArray(node) || node.length !== shape[depth]) {
    const got = Array.isArray(node) ? `an array of ${node.length}` : show(node);
    throw bad(`input \`${spec.name}\`: nested data does not match shape ${showShape(shape)}: at depth ${depth} expected an array of ${shape[depth]}, got ${got}`);
  }
  for (const child of node) storeNested(child, depth + 1, shape, out, at, spec);
}

/** `data` flat or nested (row-major), into a fresh array of the model's element type. */
function readData(data: unknown, shape: number[], spec: TensorSpec): ElementArray {
  if (!Array.isArray(data)) throw bad(`input \`${spec.name}\` has no \`data\` array`);
  const count = shape.reduce((a, b) => a * b, 1);
  const out = spec.datatype.create(count);
  if (data.length > 0 && Array.isArray(data[0])) {
    storeNested(data, 0, shape, out, { i: 0 }, spec);
    return out;
  }
  if (data.length !== count) {
    throw bad(`input \`${spec.name}\` has ${data.length} values but shape ${showShape(shape)} needs ${count}`);
  }
  for (let i = 0; i < count; i++) store(out, i, data[i], spec);
  return out;
}

function readShape(v: unknown, spec: TensorSpec): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`input \`${spec.name}\`: \`shape\` must be an array of non-negative integers, not ${show(v)}`);
  }
  const shape = v as number[];
  if (shape.length !== spec.shape.length + 1 || spec.shape.some((d, k) => shape[k + 1] !== d)) {
    throw bad(`input \`${spec.name}\` has shape ${showShape(shape)}; the model expects ${expectedShape(spec)} with N the batch size`);
  }
  return shape;
}

/** Where the binary tensor extension's bytes are read from, in the order the inputs are listed. */
export interface BinaryCursor {
  bytes: Buffer;
  offset: number;
}

function readBinary(size: unknown, shape: number[], spec: TensorSpec, cursor: BinaryCursor | undefined): ElementArray {
  const want = shape.reduce((a, b) => a * b, 1) * spec.datatype.bytes;
  if (!cursor) throw bad(`input \`${spec.name}\` sets \`binary_data_size\` but the request has no Inference-Header-Content-Length header`);
  if (size !== want) throw bad(`input \`${spec.name}\`: binary_data_size is ${show(size)} but shape ${showShape(shape)} of ${spec.datatype.name} needs ${want} bytes`);
  if (cursor.offset + want > cursor.bytes.length) throw bad(`input \`${spec.name}\`: the body ends before its ${want} bytes of binary data`);
  const slice = cursor.bytes.subarray(cursor.offset, cursor.offset + want);
  cursor.offset += want;
  const t = spec.datatype;
  const data = t.view(slice);
  if (!t.integer) {
    for (let i = 0; i < data.length; i++) {
      const v = t.decode ? t.decode(data[i]!) : data[i]!;
      if (!Number.isFinite(v)) throw bad(`input \`${spec.name}\`: element ${i} of the binary data is ${v}, not a finite number`);
    }
  }
  return data;
}

function readOutputs(v: unknown, model: ServedModel, allBinary: boolean): { outputs: number[]; binary: boolean[] } {
  if (v === undefined) return { outputs: model.outputs.map((_, i) => i), binary: model.outputs.map(() => allBinary) };
  if (!Array.isArray(v)) throw bad("`outputs` must be an array of {name}");
  const outputs: number[] = [];
  const binary: boolean[] = [];
  for (const [k, o] of v.entries()) {
    if (!isObject(o) || typeof o.name !== "string") throw bad(`outputs[${k}] must be an object with a string \`name\``);
    const index = model.outputs.findIndex((s) => s.name === o.name);
    if (index < 0) throw bad(`unknown output \`${o.name}\`; the model's outputs are ${model.outputs.map((s) => s.name).join(", ")}`);
    if (outputs.includes(index)) throw bad(`output \`${o.name}\` is requested twice`);
    const p = parameters(o.parameters, `outputs[${k}].`);
    outputs.push(index);
    binary.push(p.binary_data === undefined ? allBinary : p.binary_data === true);
  }
  return { outputs, binary };
}

/**
 * Checks an inference request body against the model. `binary` holds the bytes after the JSON
 * header when the request uses the binary tensor extension.
 */
export function parseInferRequest(body: unknown, model: ServedModel, maxBatch: number, binary?: Buffer): InferRequest {
  if (!isObject(body)) throw bad("the request body must be a JSON object with an `inputs` array");
  if (body.id !== undefined && typeof body.id !== "string") throw bad("`id` must be a string");
  const params = parameters(body.parameters, "");
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw bad("`inputs` must be a non-empty array of {name, shape, datatype, data}");
  const cursor = binary ? { bytes: binary, offset: 0 } : undefined;
  const found = new Map<number, { data: ElementArray; batch: number }>();
  for (const [k, input] of body.inputs.entries()) {
    if (!isObject(input) || typeof input.name !== "string") throw bad(`inputs[${k}] must be an object with a string \`name\``);
    const index = model.inputs.findIndex((s) => s.name === input.name);
    if (index < 0) throw bad(`unknown input \`${input.name}\`; the model's inputs are ${model.inputs.map((s) => s.name).join(", ")}`);
    if (found.has(index)) throw bad(`input \`${input.name}\` is given twice`);
    const spec = model.inputs[index]!;
    if (input.datatype !== spec.datatype.name) throw bad(`input \`${spec.name}\` has datatype ${show(input.datatype)}; the model expects ${spec.datatype.name}`);
    const shape = readShape(input.shape, spec);
    const batch = shape[0]!;
    if (batch === 0) throw bad(`input \`${spec.name}\` has batch size 0; send at least one sample`);
    if (batch > maxBatch) throw bad(`input \`${spec.name}\` has batch size ${batch}, above this server's maximum of ${maxBatch} (--max-batch); split the request`);
    const size = parameters(input.parameters, `input \`${spec.name}\`: `).binary_data_size;
    if (size !== undefined && input.data !== undefined) throw bad(`input \`${spec.name}\` has both \`data\` and binary_data_size`);
    const data = size !== undefined ? readBinary(size, shape, spec, cursor) : readData(input.data, shape, spec);
    found.set(index, { data, batch });
  }
  const missing = model.inputs.filter((_, i) => !found.has(i)).map((s) => `\`${s.name}\``);
  if (missing.length) throw bad(`missing input ${missing.join(", ")}; the model's inputs are ${model.inputs.map((s) => s.name).join(", ")}`);
  if (cursor && cursor.offset !== cursor.bytes.length) {
    throw bad(`the body has ${cursor.bytes.length - cursor.offset} bytes after the inputs' binary data; binary_data_size must account for all of them`);
  }
  const inputs = model.inputs.map((_, i) => found.get(i)!);
  const batch = inputs[0]!.batch;
  const other = inputs.findIndex((x) => x.batch !== batch);
  if (other >= 0) throw bad(`inputs disagree on the batch size: \`${model.inputs[0]!.name}\` has ${batch}, \`${model.inputs[other]!.name}\` has ${inputs[other]!.batch}`);
  return { id: body.id as string | undefined, batch, inputs: inputs.map((x) => x.data), ...readOutputs(body.outputs, model, params.binary_data_output === true) };
}

/** Tensor metadata with -1 for the batch dimension, as the protocol spells a variable size. */
const tensorMetadata = (s: TensorSpec) => ({ name: s.name, datatype: s.datatype.name, shape: [-1, ...s.shape] });

export function modelMetadata(model: ServedModel) {
  return { name: model.name, versions: [model.version], platform: "onnxruntime_onnx", inputs: model.inputs.map(tensorMetadata), outputs: model.outputs.map(tensorMetadata) };
}

export function serverMetadata(version: string, extensions: string[]) {
  return { name: "meanet", version, extensions };
}

/** A response body: the JSON text, followed by raw tensors when any output goes out as binary data. */
export interface ResponseBody {
  json: string;
  binary: Buffer[];
}

/** The inference response for one request, from its slice of every model output. */
export function inferResponse(model: ServedModel, request: InferRequest, id: string, results: ElementArray[]): ResponseBody {
  const binary: Buffer[] = [];
  const outputs = request.outputs.map((index, k) => {
    const spec = model.outputs[index]!;
    const data = results[index]!;
    const head = { name: spec.name, datatype: spec.datatype.name, shape: [request.batch, ...spec.shape] };
    const decode = spec.datatype.decode;
    if (!request.binary[k]) return { ...head, data: decode ? Array.from(data, decode) : Array.from(data) };
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    binary.push(bytes);
    return { ...head, parameters: { binary_data_size: bytes.length } };
  });
  return { json: JSON.stringify({ model_name: model.name, model_version: model.version, id, outputs }), binary };
}
