import { table } from "../codegen/index.js";
import { readVerifiedBuild, verifyBuild, type OutputCheck } from "../runtime/export/verify.js";
import { DEFAULT_PRECISION_GATES, type PrecisionCheck } from "../runtime/export/verifyPrecision.js";
import { BACKEND_CHOICES, selectBackend, type BackendRequest } from "../runtime/train/backend.js";
import { datasetFor, loadSplit, locateDataset } from "../runtime/train/data/locate.js";
import type { IrJson } from "../format/ir.js";
import { isDataError } from "../runtime/train/data/errors.js";
import { EXIT_ERRORS, EXIT_OK, UsageError } from "../diagnostics/index.js";
import { integerFlag, numberFlag } from "../runtime/argv.js";
import { defineCommand } from "./command.js";
import type { Io } from "./io.js";

export const usage = `usage: meanet verify DIR/<model> [--samples N] [--real N] [--data DIR] [--seed S] [--tolerance T]
                     [--precision-images N] [--min-agreement PCT] [--min-accuracy-change POINTS]
                     [--backend ${BACKEND_CHOICES.join("|")}] [--json]`;

/** Real test samples when a data set fits the spec: from --data, or found on the machine; none otherwise (with a note). */
/**
 * Real test images the shipped files are compared with their references on, by default: the whole
 * test split of the bundled data sets. A −0.5-point gate on fewer flakes: on the example's full run,
 * the int8 extension's change was −0.58 points on the first 1,000 images (3 of its ~520
 * hard-class images) and −0.30 on all 10,000.
 */
const PRECISION_IMAGES = 10_000;

function realSamples(ir: IrJson, count: number, data: string | undefined, io: Io): { values: Uint8Array; labels: Int32Array; count: number; source: string } | undefined {
  if (count === 0) return undefined;
  let kind;
  try {
    kind = datasetFor(ir, undefined, data);
  } catch {
    if (data) throw new UsageError(`--data: no known data set fits input ${ir.input.shape.join("×")} with ${ir.labels.length} classes`);
    io.err(`note: no data set fits input ${ir.input.shape.join("×")}; checking seeded random inputs only`);
    return undefined;
  }
  try {
    const test = loadSplit(locateDataset(kind, data, { spec: ir }), "test", { limit: count });
    return { values: test.images, labels: test.labels, count: test.count, source: kind };
  } catch (e) {
    if (isDataError(e) && !data) {
      io.err(`note: ${kind} test data not found (${e.message}); checking seeded random inputs only`);
      return undefined;
    }
    throw e;
  }
}

type Labelled = { values: Uint8Array; labels: Int32Array; count: number; source: string };

/** The first n samples. */
function firstOf(s: Labelled, n: number): Labelled {
  const count = Math.min(n, s.count);
  const size = s.values.length / Math.max(1, s.count);
  return { ...s, values: s.values.subarray(0, count * size), labels: s.labels.subarray(0, count), count };
}

const pct = (x: number | null, d = 1) => (x === null ? "" : `${(x * 100).toFixed(d)}%`);

function precisionRow(c: PrecisionCheck): string[] {
  const change = c.accuracyChange === null ? "" : `${c.accuracyChange >= 0 ? "+" : ""}${c.accuracyChange.toFixed(2)}`;
  return [c.partition, c.precision, c.exit, c.inputs, String(c.samples), pct(c.agreement, 2), pct(c.accuracy, 2), pct(c.referenceAccuracy, 2), change, c.maxProbDiff.toExponential(2), c.gated ? (c.ok ? "ok" : "FAIL") : "reported"];
}

function row(c: OutputCheck): string[] {
  return [c.partition, c.output, c.inputs, c.mode, c.maxAbsDiff.toExponential(2), c.argmaxAgreement === null ? "" : `${(c.argmaxAgreement * 100).toFixed(1)}%`, c.ok ? "ok" : "FAIL"];
}

/** `meanet verify DIR/<model>`: every exported partition in onnxruntime against tfjs; exit 1 above tolerance. */
export const verify = defineCommand({
  usage,
  options: {
    samples: { type: "string" },
    real: { type: "string" },
    data: { type: "string" },
    seed: { type: "string" },
    tolerance: { type: "string" },
    backend: { type: "string" },
    json: { type: "boolean" },
    "precision-images": { type: "string" },
    "min-agreement": { type: "string" },
    "min-accuracy-change": { type: "string" },
  },
  positionals: ["DIR"],
  read(values, [dir]) {
    const tolerance = values.tolerance === undefined ? 1e-4 : Number(values.tolerance);
    if (!(tolerance > 0)) throw new UsageError(`--tolerance must be a positive number, not \`${values.tolerance}\``);
    const backend = (values.backend ?? "auto") as BackendRequest;
    if (!BACKEND_CHOICES.includes(backend)) throw new UsageError(`--backend must be one of ${BACKEND_CHOICES.join(", ")}`);
    return {
      dir: dir!,
      tolerance,
      backend,
      samples: integerFlag("samples", values.samples, { min: 1 }) ?? 4,
      realCount: integerFlag("real", values.real, { min: 0 }) ?? 64,
      seed: integerFlag("seed", values.seed, { min: 0 }) ?? 0,
      data: values.data,
      json: Boolean(values.json),
      precisionImages: integerFlag("precision-images", values["precision-images"], { min: 0 }) ?? PRECISION_IMAGES,
      gates: {
        minAgreement: (numberFlag("min-agreement", values["min-agreement"], { min: 0, max: 100 }) ?? DEFAULT_PRECISION_GATES.minAgreement * 100) / 100,
        minAccuracyChange: numberFlag("min-accuracy-change", values["min-accuracy-change"], { min: -100, max: 100 }) ?? DEFAULT_PRECISION_GATES.minAccuracyChange,
      },
    };
  },
  async run({ dir, tolerance, backend, samples, realCount, seed, data, json, precisionImages, gates }, io) {
    // A missing or changed file is refused before any data is read or anything runs.
    const { ir, manifest } = readVerifiedBuild(dir);
    const quantized = manifest.export!.partitions.some((p) => p.reference);
    // One read of the test split serves both comparisons.
    const loaded = realSamples(ir, Math.max(realCount, quantized ? precisionImages : 0), data, io);
    const real = loaded && realCount > 0 ? firstOf(loaded, realCount) : undefined;
    const usedBackend = await selectBackend(backend);
    // Seeded random inputs (reported, not gated): 256 small images, fewer large ones (16 at 224×224×3).
    const inputSize = ir.input.shape.reduce((a, b) => a * b, 1);
    const randomSamples = Math.max(16, Math.min(256, Math.round((256 * 3072) / inputSize)));
    const precision = quantized ? { real: loaded && precisionImages > 0 ? firstOf(loaded, precisionImages) : undefined, randomSamples, gates } : undefined;
    const r = await verifyBuild({ buildDir: dir, randomSamples: samples, seed, tolerance, ...(real ? { real } : {}), ...(precision ? { precision } : {}) });
    if (json) io.out(JSON.stringify({ ...r, backend: usedBackend, realSource: real?.source ?? null }));
    else {
      io.out(`${r.model} (${r.weights} weights): onnxruntime against tfjs (${usedBackend}) on ${samples} random${real ? ` and ${real.count} real ${real.source}` : ""} inputs`);
      io.out(table(["file", "output", "inputs", "fed by", "max |diff|", "top-1 agree", ""], r.checks.map(row), [false, false, false, false, true, true, false]));
      const far = r.checks.filter((c) => !c.ok).length;
      io.out(far ? `FAILED: ${far} outputs differ by more than ${tolerance}` : `all outputs within ${tolerance}`);
      if (r.precision.length) {
        io.out(`\nshipped files against their float32 references (gates on real images: top-1 agreement ≥ ${(gates.minAgreement * 100).toFixed(1)}%, accuracy change ≥ ${gates.minAccuracyChange} points):`);
        io.out(table(["file", "precision", "exit", "inputs", "samples", "agreement", "accuracy", "reference", "change", "max |Δp|", ""], r.precision.map(precisionRow), [false, false, false, false, true, true, true, true, true, true, false]));
        const failed = r.precision.filter((c) => !c.ok).length;
        io.out(failed ? `FAILED: ${failed} shipped exits miss a gate` : "every shipped exit within its gates");
      }
    }
    return r.ok ? EXIT_OK : EXIT_ERRORS;
  },
});
