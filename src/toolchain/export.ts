/**
 * `meanet export`: every partition of a build as an ONNX file, from its trained weights or from
 * the seeded initial ones. All files are made in memory first, so a bad weight file stops the
 * export before anything is written; the manifest is written last and lists every file's hash.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DEFER_FILE, deferMacs, deferWeightCount } from "../format/defer.js";
import { randomDeferral, trainedDeferral } from "../runtime/export/deferral.js";
import { emitDeferralOnnx } from "../codegen/onnx/index.js";
import { exportedFiles, type ExportedDeferral, type Manifest, type ExportCalibration, type ManifestArtifact, type PartitionPlan, type WeightsOrigin } from "../format/manifest.js";
import type { Precision } from "../format/ir.js";
import { calibrationOf, type Calibration } from "../format/quantize.js";
import { shippedSummary, withShippedSection } from "../codegen/shipped.js";
import { atDevicePrecision, precisionOf, referencePath, type Emitter, type FileRole } from "./precision.js";
import { emitManifestWithExport, sha256 } from "../codegen/manifest.js";
import { emitOnnx, initializerBytes, IR_VERSION, OPSET, planPartitions, type OnnxModelInfo } from "../codegen/onnx/index.js";
import { tritonModelPath } from "../codegen/triton.js";
import { Codes, MeanetError } from "../diagnostics/index.js";
import { readBuild, type Build } from "../format/build.js";
import { writeAtomic } from "../runtime/files.js";
import { randomWeights } from "../runtime/export/random.js";
import { initialHardClasses, trainedHardClasses } from "../format/hardClasses.js";
import { changedBlocks, readTrainRecord } from "../format/trainReport.js";
import { lookupIn, readBlockWeights, type WeightStore } from "../runtime/export/weights.js";

export const LAYOUT_NOTE = "inputs and outputs are NHWC like the spec's shapes, with a dynamic batch N; the model input is taken as stored (e.g. uint8 pixels) and scaled by 1/255 inside; feature maps are NCHW inside each file; exits give softmax probabilities";

export interface ExportOptions {
  buildDir: string;
  /** Export the seeded initial weights instead of trained ones. */
  randomSeed?: number;
  toolVersion: string;
  /** Where the data set is, for the calibration images of int8 files. */
  dataDir?: string;
  /** Overrides of the spec's `quantize` section. */
  calibration?: Partial<Calibration>;
  /** Warnings (calibration images that are not held-out ones). */
  warn?: (line: string) => void;
}

export interface ExportResult {
  partitions: NonNullable<Manifest["export"]>["partitions"];
  calibration: ExportCalibration | null;
  files: ManifestArtifact[];
  weights: WeightsOrigin;
  hardClasses: string[];
}

/** Trained weights of every block, refused when a block changed since training, and the hard classes they were trained on. */
function trainedWeights(build: Build): { store: WeightStore; origin: WeightsOrigin; hard: string[] } {
  const { dir, ir } = build;
  const record = readTrainRecord(dir);
  const store: WeightStore = new Map();
  const changed = record ? changedBlocks(record, ir) : [];
  for (const b of ir.blocks) {
    if (changed.includes(b.name)) {
      throw new MeanetError(Codes.WeightsMismatch, `block \`${b.name}\` changed since its weights were trained (weights/${b.name} fits another version of the spec); run meanet train again`);
    }
    readBlockWeights(dir, ir, b.name, store);
  }
  return { store, origin: { kind: "trained", trainReportSha256: record?.sha256 ?? null }, hard: trainedHardClasses(build, record) };
}

/** What a file says of its precision: a shipped file names its reference, a reference what it is the reference of. */
function precisionMetadata(plan: PartitionPlan, precision: Precision, role: FileRole, calibration: ExportCalibration | null): [string, string][] {
  if (role === "reference") return [["meanet.precision", "fp32"], ["meanet.reference_of", plan.path]];
  const meta: [string, string][] = [["meanet.precision", precision]];
  if (role === "shipped") meta.push(["meanet.reference", referencePath(plan.path)]);
  if (precision === "int8" && calibration) meta.push(["meanet.calibration", JSON.stringify(calibration)]);
  return meta;
}

/** The metadata every exported file carries: which build, spec, labels, rules and weights it belongs to. */
function buildMetadata(build: Build, file: { name: string; device: string }, origin: WeightsOrigin, hard: string[]): [string, string][] {
  const m = build.manifest;
  return [
    ["meanet.model", m.model],
    ["meanet.partition", file.name],
    ["meanet.device", file.device],
    ["meanet.build_id", m.buildId],
    ["meanet.spec_sha256", m.spec.sha256],
    ["meanet.labels", JSON.stringify(m.labels)],
    ["meanet.hard_classes", JSON.stringify(hard)],
    ["meanet.exits", JSON.stringify(m.exits)],
    ["meanet.routing", JSON.stringify(m.routing)],
    ["meanet.weights", origin.kind === "random" ? `random initial weights, seed ${origin.seed}` : "trained"],
  ];
}

function modelInfo(build: Build, plan: PartitionPlan, origin: WeightsOrigin, hard: string[], toolVersion: string): OnnxModelInfo {
  const io = (list: PartitionPlan["inputs"]) => list.map((x) => ({ name: x.name, dtype: x.dtype, shape: x.shape, layout: x.layout, exit: x.exit }));
  const shared = buildMetadata(build, plan, origin, hard);
  return {
    producerVersion: toolVersion,
    docString: `meanet model ${build.manifest.model}, partition ${plan.name} (${plan.device})`,
    // The order files have always had: the build's entries, this file's inputs, outputs and layout, then the weights.
    metadata: [...shared.slice(0, -1), ["meanet.inputs", JSON.stringify(io(plan.inputs))], ["meanet.outputs", JSON.stringify(io(plan.outputs))], ["meanet.layout", LAYOUT_NOTE], shared.at(-1)!],
  };
}

/** A file's weight bytes as compiled (its nodes' figures in ir.json) and as shipped (its initializers). */
function weightBytesOf(build: Build, plan: PartitionPlan, bytes: Uint8Array): { compiled: number; shipped: number } {
  return { compiled: plan.nodes.reduce((n, id) => n + build.ir.nodes[id]!.weightBytes, 0), shipped: initializerBytes(bytes) };
}

/**
 * report.md gets a section on what the export ships (weights as compiled and as shipped). The file
 * is compile's; the manifest lists its new hash, and so does the compile stage's record of a
 * `meanet build`, so that the build takes the extended file for its own.
 */
function reportWithExport(dir: string, manifest: Manifest, exported: NonNullable<Manifest["export"]>, files: ManifestArtifact[]): { manifest: Manifest; artifacts: ManifestArtifact[] } {
  const path = join(dir, "report.md");
  if (!existsSync(path)) return { manifest, artifacts: [] };
  const summary = shippedSummary({ ...manifest, export: exported, artifacts: [...manifest.artifacts.filter((a) => !files.some((f) => f.path === a.path)), ...files] })!;
  const bytes = Buffer.from(withShippedSection(readFileSync(path, "utf8"), summary));
  writeAtomic(path, bytes);
  const artifact = { path: "report.md", sha256: sha256(bytes), bytes: bytes.byteLength };
  const compile = manifest.stages?.compile;
  const stages = compile?.outputs["report.md"] ? { ...manifest.stages, compile: { ...compile, outputs: { ...compile.outputs, "report.md": artifact.sha256 } } } : manifest.stages;
  return { manifest: { ...manifest, ...(stages ? { stages } : {}) }, artifacts: [artifact] };
}

/** edge/defer.onnx and its manifest record, when a routing rule reads `defer(…)`. Its inputs are named like the exits' outputs. */
function deferralFile(build: Build, plans: PartitionPlan[], o: ExportOptions, origin: WeightsOrigin, hard: string[]): { bytes: Uint8Array; record: ExportedDeferral } | undefined {
  const model = o.randomSeed !== undefined ? randomDeferral(build.ir, o.randomSeed) : trainedDeferral(build.dir, build.ir);
  if (!model) return undefined;
  const outputName = (exit: string) => plans.flatMap((p) => p.outputs).find((io) => io.exit === exit)!.name;
  const bytes = emitDeferralOnnx(model, model.exits.map((x) => ({ name: outputName(x.name) })), {
    producer: o.toolVersion,
    docString: `meanet model ${build.manifest.model}: the learned deferral rule over ${model.exits.map((x) => x.name).join(", ")}`,
    metadata: [...buildMetadata(build, { name: "defer", device: "edge" }, origin, hard), ["meanet.precision", "fp32"]],
  });
  const widths = model.exits.map((x) => x.k);
  return {
    bytes,
    record: { path: DEFER_FILE, exits: model.exits, hidden: model.hidden, macs: deferMacs(widths, model.hidden), weights: deferWeightCount(widths, model.hidden), rows: model.training.rows },
  };
}

export async function exportBuild(o: ExportOptions): Promise<ExportResult> {
  const build = readBuild(o.buildDir);
  const { ir, manifest } = build;
  const calibration = { ...calibrationOf(ir), ...o.calibration };
  const { store, origin, hard } =
    o.randomSeed !== undefined ? { store: randomWeights(ir, o.randomSeed), origin: { kind: "random", seed: o.randomSeed } as WeightsOrigin, hard: initialHardClasses(manifest) } : trainedWeights(build);
  const plans = planPartitions(ir);
  const lookup = lookupIn(store);
  const emit: Emitter = (plan, precision, role, calibrated) => {
    const info = modelInfo(build, plan, origin, hard, o.toolVersion);
    info.metadata.push(...precisionMetadata(plan, precision, role, calibrated));
    return emitOnnx(ir, plan, lookup, info);
  };
  const atPrecision = await atDevicePrecision({ build, dataDir: o.dataDir, calibration, randomSeed: o.randomSeed, warn: o.warn ?? (() => {}) }, plans, emit);
  const outputs = plans.map((p, i) => ({ plan: p, bytes: atPrecision.shipped[i]! }));
  const files = outputs.map(({ plan, bytes }) => ({ path: plan.path, sha256: sha256(bytes), bytes: bytes.byteLength }));
  for (const [path, bytes] of atPrecision.references) files.push({ path, sha256: sha256(bytes), bytes: bytes.byteLength });
  const deferral = deferralFile(build, plans, o, origin, hard);
  if (deferral) files.push({ path: deferral.record.path, sha256: sha256(deferral.bytes), bytes: deferral.bytes.byteLength });
  // The Triton model repository (cloud/triton, config.pbtxt from compile) gets its own copy of the
  // cloud file, so the folder can be handed to a server as it is.
  const tritonCopy = tritonModelPath(ir.model);
  const cloudBytes = outputs.find(({ plan }) => plan.device === "cloud")?.bytes;
  if (cloudBytes) files.push({ path: tritonCopy, sha256: sha256(cloudBytes), bytes: cloudBytes.byteLength });
  for (const { plan, bytes } of outputs) writeAtomic(join(o.buildDir, plan.path), bytes);
  for (const [path, bytes] of atPrecision.references) writeAtomic(join(o.buildDir, path), bytes);
  if (cloudBytes) writeAtomic(join(o.buildDir, tritonCopy), cloudBytes);
  if (deferral) writeAtomic(join(o.buildDir, deferral.record.path), deferral.bytes);
  // Files of an earlier export that this one does not write again would be stale.
  for (const p of exportedFiles(manifest)) if (!files.some((f) => f.path === p)) rmSync(join(o.buildDir, p), { force: true });
  // A compile since that export dropped it from the manifest, but not its Triton copy from the disk.
  if (!cloudBytes) rmSync(join(o.buildDir, tritonCopy), { force: true });
  const partitions = plans.map(({ nodes: _nodes, ...rest }, i) => {
    const reference = referencePath(rest.path);
    return { ...rest, precision: precisionOf(build, rest), reference: atPrecision.references.has(reference) ? reference : null, weightBytes: weightBytesOf(build, plans[i]!, atPrecision.shipped[i]!) };
  });
  const exported = {
    opset: OPSET,
    irVersion: IR_VERSION,
    weights: origin,
    layout: LAYOUT_NOTE,
    hardClasses: hard,
    partitions,
    calibration: atPrecision.calibration,
    ...(deferral ? { deferral: deferral.record } : {}),
    // Every file written, so that readers check them all (exportedFiles in src/format/manifest.ts).
    files: files.map((f) => f.path),
  };
  const report = reportWithExport(o.buildDir, manifest, exported, files);
  writeAtomic(join(o.buildDir, "manifest.json"), emitManifestWithExport(report.manifest, exported, [...files, ...report.artifacts]));
  return { partitions, calibration: atPrecision.calibration, files, weights: origin, hardClasses: hard };
}
