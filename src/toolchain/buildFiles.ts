/**
 * The files of a build directory that compiling writes: ir.json, report.md, the generated
 * programs, the deploy files and manifest.json, which lists every artifact with its hash.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { emitIrJson, emitKServeManifest, emitManifest, emitReport, emitRouterProgram, emitTrainProgram, emitTritonConfig, onnx, placeholderStorageUri, sha256, summarize, TRITON_DEFAULTS, tritonConfigPath, type IrJson, type ManifestArtifact } from "../codegen/index.js";
import { MeanetError } from "../diagnostics/index.js";
import type { Manifest } from "../format/manifest.js";
import type { CompileResult } from "../ir/index.js";
import { writeAtomic } from "../runtime/files.js";
import { fittingHardClasses } from "../format/hardClasses.js";
import { changedBlocks, readTrainRecord } from "../format/trainReport.js";
import { artifactOf } from "./buildStages.js";
import { VERSION } from "./package.js";
import { DEFER_WEIGHTS } from "../format/defer.js";

export { artifactOf };

export interface BuildFiles {
  dir: string;
  irJson: IrJson;
  irText: string;
  /** Files of the compile step, by path inside dir. */
  files: [string, string | Uint8Array][];
}

/** The compile artifacts of a clean spec, in memory. */
export function buildFiles(r: CompileResult, outDir: string): BuildFiles {
  const ir = r.ir!;
  const irJson = emitIrJson(ir, r.shapes, r.results);
  const irText = JSON.stringify(irJson, null, 1) + "\n";
  const files: [string, string][] = [
    ["ir.json", irText],
    ["report.md", emitReport(summarize(ir, r.results))],
    ["train/train.ts", emitTrainProgram(irJson, r.sources[0]!.name)],
    // The program is an ES module (top-level await, import.meta) wherever the build directory lives.
    ["train/package.json", '{\n  "type": "module",\n  "private": true\n}\n'],
    ["edge/router.ts", emitRouterProgram(irJson, r.sources[0]!.name)],
    ["edge/package.json", '{\n  "type": "module",\n  "private": true\n}\n'],
  ];
  // The deploy files depend only on the IR, so they exist before any training; export adds the model.
  const cloud = onnx.planPartitions(irJson).find((p) => p.device === "cloud");
  if (cloud) {
    files.push([tritonConfigPath(ir.model), emitTritonConfig(irJson, cloud, TRITON_DEFAULTS)]);
    files.push(["cloud/kserve.yaml", emitKServeManifest(irJson, { storageUri: placeholderStorageUri(ir.model) })]);
  }
  return { dir: join(outDir, ir.model), irJson, irText, files };
}

/** The manifest for a build: every artifact listed with its hash, and the stage records of `meanet build` when given. */
export function manifestFor(r: CompileResult, artifacts: ManifestArtifact[], trained?: { hardClasses: string[] }, stages?: Manifest["stages"]): string {
  const [main, ...imports] = r.sources;
  const spec = { file: main!.name, sha256: sha256(main!.text), imports: imports.map((s) => ({ file: s.name, sha256: sha256(s.text) })) };
  const text = emitManifest(r.ir!, spec, VERSION, artifacts, trained);
  if (!stages || !Object.keys(stages).length) return text;
  const { artifacts: listed, ...rest } = JSON.parse(text) as Manifest;
  return JSON.stringify({ ...rest, stages, artifacts: listed }, null, 2) + "\n";
}

/**
 * The stage records of the manifest already in `dir`, if any. Keeping them across a rewrite is
 * safe: `meanet build` reuses a stage only when the files a record lists still hash the same.
 */
export function previousStages(dir: string): Manifest["stages"] {
  try {
    const stages = (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Partial<Manifest>).stages;
    return stages && typeof stages === "object" && !Array.isArray(stages) ? stages : undefined;
  } catch {
    return undefined;
  }
}

/** Writes files then the manifest last, so a manifest always describes files that exist. */
export function writeBuild(r: CompileResult, b: BuildFiles, extra: ManifestArtifact[] = [], trained?: { hardClasses: string[] }): string[] {
  for (const [path, data] of b.files) writeAtomic(join(b.dir, path), data);
  const artifacts = [...b.files.map(([p, d]) => artifactOf(p, d)), ...extra].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  writeAtomic(join(b.dir, "manifest.json"), manifestFor(r, artifacts, trained, previousStages(b.dir)));
  return [...b.files.map(([p]) => p), ...extra.map((a) => a.path), "manifest.json"];
}

/**
 * The files `meanet train` writes that the manifest lists, by path inside the build: each block's
 * weights, and the learned deferral model when training fitted one (train-report.json aside).
 */
export function weightFiles(dir: string, ir: Pick<IrJson, "blocks">): string[] {
  const files = ir.blocks.flatMap((block) => ["model.json", "weights.bin"].map((f) => `weights/${block.name}/${f}`));
  if (existsSync(join(dir, "weights", DEFER_WEIGHTS))) files.push(`weights/${DEFER_WEIGHTS}`);
  return files;
}

/** train-report.json and the weight files, as manifest artifacts. */
export function trainingArtifacts(dir: string, ir: Pick<IrJson, "blocks">): ManifestArtifact[] {
  return ["train-report.json", ...weightFiles(dir, ir)].map((f) => artifactOf(f, readFileSync(join(dir, f))));
}

/** What an earlier training left in a build and still fits the spec. */
export interface KeptTraining {
  hardClasses: string[];
  artifacts: ManifestArtifact[];
}

/**
 * What an earlier `meanet train` left in the build and still fits the spec: the hard classes of
 * train-report.json and the weight files, kept in the manifest as training wrote them. Weights
 * trained for another version of the spec are left out, with a note.
 */
export function keptTraining(b: BuildFiles, note: (line: string) => void): KeptTraining | undefined {
  let record;
  try {
    record = readTrainRecord(b.dir);
  } catch (e) {
    if (!(e instanceof MeanetError)) throw e;
    note(`note: ${e.message}; the manifest lists no trained state`);
    return undefined;
  }
  if (!record) return undefined;
  const changed = changedBlocks(record, b.irJson);
  const hardClasses = fittingHardClasses(record.hardClasses, b.irJson);
  const files = weightFiles(b.dir, b.irJson);
  const missing = files.filter((f) => !existsSync(join(b.dir, f)));
  if (changed.length || !hardClasses || missing.length) {
    const why = changed.length ? `block${changed.length > 1 ? "s" : ""} ${changed.map((c) => `\`${c}\``).join(", ")} changed since training` : missing.length ? `${missing[0]} is missing` : "its hard classes do not fit the spec";
    note(`note: the weights in ${b.dir} do not fit this spec (${why}); run meanet train again`);
    return undefined;
  }
  const artifacts = [artifactOf("train-report.json", readFileSync(record.path)), ...files.map((f) => artifactOf(f, readFileSync(join(b.dir, f))))];
  return { hardClasses, artifacts };
}
