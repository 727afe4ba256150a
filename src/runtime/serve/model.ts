/**
 * The model a server serves: the cloud partition of an exported build, as manifest.json describes
 * it, and the check of an onnxruntime session against that description, so a stale or hand-edited
 * build fails at startup with a message rather than as a 500 on the first request. A server
 * starts only on an export whose files all match the manifest's SHA-256: `cloud/model.onnx`, which
 * it serves, and the others, among them the Triton copy operators hand to Triton.
 */
import { join } from "node:path";
import type { PartitionIo } from "../../format/manifest.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { readBuild } from "../../format/build.js";
import { checkExportedFiles } from "../export/artifacts.js";
import type { InferenceSession } from "../infer/onnx.js";
import { datatypeOf, SUPPORTED_DTYPES, type Datatype } from "./datatypes.js";

/** A tensor at the model's boundary; `shape` leaves out the batch dimension. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Elements per sample: the product of `shape`. */
  size: number;
}

export interface ServedModel {
  name: string;
  /** A build holds one version of its model: "1", so `/versions/1/` paths work as clients expect. */
  version: string;
  /** manifest.buildId: which compile of the spec is being served. */
  buildId: string;
  /** The meanet version that compiled the build. */
  toolVersion: string;
  path: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

function specOf(io: PartitionIo, where: string): TensorSpec {
  const datatype = datatypeOf(io.dtype);
  if (!datatype) {
    throw new MeanetError(Codes.BuildInvalid, `${where} \`${io.name}\` has element type ${io.dtype}; the server supports ${SUPPORTED_DTYPES.join(", ")}`);
  }
  return { name: io.name, datatype, shape: [...io.shape], size: io.shape.reduce((a, b) => a * b, 1) };
}

/** Compares onnxruntime's view of the file with the manifest's: names, element types and the non-batch dimensions. */
function checkTensors(metadata: readonly InferenceSession.ValueMetadata[], specs: TensorSpec[], kind: "input" | "output", path: string): void {
  const names = metadata.map((m) => m.name);
  const expected = specs.map((s) => s.name);
  if (names.join("\u0000") !== expected.join("\u0000")) {
    throw new MeanetError(Codes.BuildInvalid, `${path} has ${kind}s (${names.join(", ")}) but manifest.json lists (${expected.join(", ")}); run \`meanet export\` again`);
  }
  for (const [i, m] of metadata.entries()) {
    const s = specs[i]!;
    if (!m.isTensor) throw new MeanetError(Codes.BuildInvalid, `${path}: ${kind} \`${m.name}\` is not a tensor`);
    const dims = m.shape.slice(1);
    const fixed = dims.every((d, k) => typeof d !== "number" || d === s.shape[k]);
    if (m.type !== s.datatype.dtype || dims.length !== s.shape.length || !fixed) {
      throw new MeanetError(
        Codes.BuildInvalid,
        `${path}: ${kind} \`${m.name}\` is ${m.type}[${m.shape.join(", ")}] but manifest.json says ${s.datatype.dtype}[N, ${s.shape.join(", ")}]; run \`meanet export\` again`,
      );
    }
  }
}

/** Throws when onnxruntime's metadata of the file disagrees with the manifest's description. */
export function checkSession(metadata: Pick<InferenceSession, "inputMetadata" | "outputMetadata">, model: ServedModel): void {
  checkTensors(metadata.inputMetadata, model.inputs, "input", model.path);
  checkTensors(metadata.outputMetadata, model.outputs, "output", model.path);
}

/** Reads the build and finds the partition placed on the cloud; opens nothing. */
export function describeServedModel(buildDir: string): ServedModel {
  const { manifest } = readBuild(buildDir);
  if (!manifest.export) {
    throw new MeanetError(Codes.BuildInvalid, `${buildDir} has not been exported; run \`meanet export ${buildDir}\` first`);
  }
  const partition = manifest.export.partitions.find((p) => p.device === "cloud");
  if (!partition) throw new MeanetError(Codes.BuildInvalid, `${buildDir} has no cloud partition: every block of \`${manifest.model}\` runs on the edge`);
  const path = join(buildDir, partition.path);
  // The cloud's files of the export (the served file and the Triton copy of it) missing or changed
  // since the export: refused by name before anything is loaded. The edge files are the edge's to
  // check (the router does), so a cloud machine given only cloud/ and the JSON files can serve.
  checkExportedFiles({ dir: buildDir, manifest }, (p) => p.startsWith("cloud/"));
  const inputs = partition.inputs.map((x) => specOf(x, "input"));
  const outputs = partition.outputs.map((x) => specOf(x, "output"));
  return { name: manifest.model, version: "1", buildId: manifest.buildId, toolVersion: manifest.tool.version, path, inputs, outputs };
}
