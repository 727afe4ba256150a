import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { registerCustomLayers } from "./layers.js";
import { tf, type LayersModel } from "./tf.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";

/** model.json of the tfjs layers format, as written next to weights.bin. */
interface ModelJson {
  format: "layers-model";
  generatedBy: string;
  convertedBy: null;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** The model's files in the tfjs layers format: model.json (topology + manifest) and weights.bin. */
export async function modelFiles(model: LayersModel): Promise<{ json: string; weights: Uint8Array }> {
  let out: { json: string; weights: Uint8Array } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = a.weightData as ArrayBuffer;
      const json: ModelJson = {
        format: "layers-model",
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: ["weights.bin"], weights: a.weightSpecs ?? [] }],
      };
      out = { json: JSON.stringify(json), weights: new Uint8Array(data) };
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON" } };
    }),
  );
  return out!;
}

/** Writes model.json and weights.bin into dir, each atomically. */
export async function saveModel(model: LayersModel, dir: string): Promise<{ json: string; weights: Uint8Array }> {
  mkdirSync(dir, { recursive: true });
  const files = await modelFiles(model);
  atomicWrite(join(dir, "weights.bin"), files.weights);
  atomicWrite(join(dir, "model.json"), files.json);
  return files;
}

/** Loads a model saved by saveModel; errors name the folder and what is wrong. */
export async function loadModel(dir: string): Promise<LayersModel> {
  registerCustomLayers();
  let json: ModelJson;
  let weights: Buffer;
  try {
    json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as ModelJson;
  } catch (e) {
    throw new MeanetError(Codes.WeightsMissing, `cannot read ${join(dir, "model.json")}: ${(e as Error).message}`);
  }
  try {
    weights = readFileSync(join(dir, "weights.bin"));
  } catch (e) {
    throw new MeanetError(Codes.WeightsMissing, `cannot read ${join(dir, "weights.bin")}: ${(e as Error).message}`);
  }
  const specs = json.weightsManifest?.[0]?.weights ?? [];
  const expected = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (weights.byteLength !== expected) throw new MeanetError(Codes.WeightsMismatch, `${join(dir, "weights.bin")} has ${weights.byteLength} bytes but model.json describes ${expected}`);
  const buffer = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs, weightData: buffer }));
}

/** Copies weights from a loaded model into a built one of the same architecture. */
export async function restoreWeights(model: LayersModel, dir: string): Promise<void> {
  const loaded = await loadModel(dir);
  const weights = loaded.getWeights();
  const target = model.getWeights();
  if (weights.length !== target.length || weights.some((w, i) => w.shape.join() !== target[i]!.shape.join())) {
    loaded.dispose();
    throw new MeanetError(Codes.WeightsMismatch, `weights in ${dir} do not fit block \`${model.name}\`: the spec changed since they were saved`);
  }
  model.setWeights(weights);
  loaded.dispose();
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
