import { readFileSync } from "node:fs";
import { join } from "node:path";
import { emitIrJson, emitKServeManifest, emitManifest, emitReport, emitRouterProgram, emitTrainProgram, emitTritonConfig, onnx, placeholderStorageUri, sha256, summarize, TRITON_DEFAULTS, tritonConfigPath, type IrJson, type ManifestArtifact } from "../codegen/index.js";
import type { Manifest } from "../format/manifest.js";
import type { CompileResult } from "../ir/index.js";
import { VERSION } from "./version.js";
import { writeAtomic } from "./write.js";

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

export function artifactOf(path: string, data: string | Uint8Array): ManifestArtifact {
  return { path, sha256: sha256(data), bytes: typeof data === "string" ? Buffer.byteLength(data) : data.byteLength };
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
