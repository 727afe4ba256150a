import { Codes, MeanetError } from "../diagnostics/index.js";
import type { IrJsonDevice, Precision } from "./ir.js";
import type { Calibration } from "./quantize.js";

/** The typed format of manifest.json (ARCHITECTURE.md, "Files on disk"). Later stages add artifacts and fill `hardClasses.labels`. */
export interface ManifestArtifact {
  path: string;
  sha256: string;
  bytes: number;
}

/** A tensor at a partition boundary. Shapes leave out the batch dimension, which is dynamic (`N`). */
export interface PartitionIo {
  name: string;
  /** The IR tensor. */
  tensor: number;
  /** float32, except the model input (as stored) and a tensor an edge file sends to the cloud at the edge's precision (uint8, float16). */
  dtype: string;
  shape: number[];
  /** Feature maps cross files as NHWC, like the spec's shapes; inside a file they are NCHW. */
  layout: "NHWC" | "NC";
  /** For exit probabilities: the exit. */
  exit: string | null;
  /**
   * A tensor that crosses the link from an int8 edge file: sent as uint8, `real = scale × (q −
   * zeroPoint)`; the edge file quantizes it and the cloud file dequantizes it inside.
   */
  quant?: { scale: number; zeroPoint: number };
}

/** One ONNX file of the export: the IR nodes it holds and its inputs and outputs, in file order. */
export interface PartitionPlan {
  name: string;
  device: "edge" | "cloud";
  path: string;
  nodes: number[];
  exits: string[];
  inputs: PartitionIo[];
  outputs: PartitionIo[];
  /** The precision the file ships at: its device's. Absent in manifests that predate it (fp32). */
  precision?: Precision;
  /** For int8 and fp16 files: the float32 file of the same weights, the reference `meanet verify` compares with. */
  reference?: string | null;
  /**
   * Weight bytes of the file: `compiled`, its nodes' parameters at its precision as the compiler
   * counts them against the budgets; `shipped`, the bytes of the file's initializers (int8 weights
   * with their scales, int32 biases, uint8 activation scales and zero points, float constants). Written by export.
   */
  weightBytes?: { compiled: number; shipped: number };
}

/**
 * The deferral model as export wrote it: an edge file that reads the probabilities of `exits` (its
 * inputs are named like those exits' outputs in the partition files) and gives one score per input,
 * its output `defer`. Shipped in float32.
 */
export interface ExportedDeferral {
  path: string;
  exits: { name: string; k: number }[];
  hidden: number;
  /** MACs per input and float32 weights, as the compiler counts them against the edge. */
  macs: number;
  weights: number;
  /** Which held-out rows it was fitted on; eval calibrates thresholds on `defer` on the others. */
  rows: { from: number; to: number; of: number };
}

/** The name of the deferral file's output. */
export const DEFER_OUTPUT = "defer";

/** How the int8 files of an export were calibrated. */
export interface ExportCalibration extends Calibration {
  /** Which images, e.g. "the first 512 of 6000 held-out validation images of …". */
  source: string;
}

/** Where the exported weights came from. */
export type WeightsOrigin = { kind: "trained"; trainReportSha256: string | null } | { kind: "random"; seed: number };

/** The stages of `meanet build`, in order. */
export type BuildStage = "compile" | "train" | "export" | "verify" | "eval";

/**
 * What `meanet build` records for a stage that finished: the sha256 of each of its inputs and of
 * each file it wrote. The next build reuses the stage when the inputs hash the same and every
 * file is still there with the same sha256 (here and in `artifacts`).
 */
export interface StageRecord {
  /** sha256 over `inputs`. */
  key: string;
  /** sha256 of each input by name (e.g. `spec`, `data`, `weights`), so a rerun can say which changed. */
  inputs: Record<string, string>;
  /** The files the stage wrote, by path inside the build directory, with their sha256. */
  outputs: Record<string, string>;
}

/** The export section of a manifest; a build not exported yet is MN5005 saying what to run. */
export function exportOf(manifest: Pick<Manifest, "export">): NonNullable<Manifest["export"]> {
  if (!manifest.export) throw new MeanetError(Codes.BuildInvalid, "manifest.json lists no ONNX export; run `meanet export` first");
  return manifest.export;
}

export interface Manifest {
  format: "meanet-manifest";
  version: 1;
  model: string;
  buildId: string;
  tool: { name: "meanet"; version: string };
  spec: { file: string; sha256: string; imports: { file: string; sha256: string }[] };
  input: { name: string; dtype: string; shape: number[]; layout: "NHWC" };
  labels: string[];
  hardClasses: { selection: string; count: number; labels: string[] | null };
  routing: { target: string; when: unknown }[];
  exits: { name: string; block: string; classes: unknown }[];
  devices: Record<"edge" | "cloud", IrJsonDevice>;
  /** `meanet eval` sets the status of evaluation assertions. */
  assertions: { text: string; when: "compile" | "eval"; status: "passed" | "failed" | "pending" }[];
  /** Written by `meanet export`. */
  export?: {
    opset: number;
    irVersion: number;
    weights: WeightsOrigin;
    layout: string;
    /** Labels of the hard classes, in the order of the hard-class exits' outputs. */
    hardClasses: string[];
    partitions: Omit<PartitionPlan, "nodes">[];
    /** How the int8 files were calibrated; null when no file is int8. Absent in manifests that predate it. */
    calibration?: ExportCalibration | null;
    /** The learned deferral model's file (edge/defer.onnx) when a routing rule reads `defer(…)`. */
    deferral?: ExportedDeferral;
    /**
     * Every file the export wrote, by path inside the build, in the order written: the partitions'
     * files, the Triton copy of the cloud file, and any other. Each is listed in `artifacts`.
     * Absent in manifests of exports that predate it; read it through `exportedFiles`.
     */
    files?: string[];
  };
  /** Written by `meanet build`: the stages that finished, with the hashes they were keyed on. */
  stages?: Partial<Record<BuildStage, StageRecord>>;
  artifacts: ManifestArtifact[];
}

/**
 * Every file of the last export, by path inside the build: what `export.files` records, so a file
 * a later export adds is covered with no change here. An export recorded before `files` existed
 * wrote its partitions' files and byte-identical copies of them (the Triton copy of the cloud
 * file): those are the artifacts with a partition file's sha256. Empty when nothing is exported.
 * Readers check each against `artifacts` before using any (src/runtime/export/artifacts.ts).
 */
export function exportedFiles(manifest: Pick<Manifest, "export" | "artifacts">): string[] {
  const exported = manifest.export;
  if (!exported) return [];
  if (exported.files) return [...exported.files];
  const partitions = exported.partitions.map((p) => p.path);
  const hashes = new Set(manifest.artifacts.filter((a) => partitions.includes(a.path)).map((a) => a.sha256));
  const copies = manifest.artifacts.filter((a) => !partitions.includes(a.path) && hashes.has(a.sha256)).map((a) => a.path);
  return [...partitions, ...copies];
}
