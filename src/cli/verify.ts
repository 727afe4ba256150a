import { table } from "../codegen/index.js";
import { readVerifiedBuild, verifyBuild, type OutputCheck } from "../runtime/export/verify.js";
import { BACKEND_CHOICES, selectBackend, type BackendRequest } from "../runtime/train/backend.js";
import { take } from "../runtime/train/data/dataset.js";
import { loadSplit, locateDataset } from "../runtime/train/data/locate.js";
import type { IrJson } from "../format/ir.js";
import { datasetFor } from "../runtime/train/run.js";
import { isDataError } from "../runtime/train/data/errors.js";
import { EXIT_ERRORS, EXIT_OK, UsageError } from "../diagnostics/index.js";
import { integerFlag } from "../runtime/argv.js";
import { defineCommand } from "./command.js";
import type { Io } from "./io.js";

export const usage = `usage: meanet verify DIR/<model> [--samples N] [--real N] [--data DIR] [--seed S] [--tolerance T]
                     [--backend ${BACKEND_CHOICES.join("|")}] [--json]`;

/** Real test samples when a data set fits the spec: from --data, or found on the machine; none otherwise (with a note). */
function realSamples(ir: IrJson, count: number, data: string | undefined, io: Io): { values: Uint8Array; count: number; source: string } | undefined {
  if (count === 0) return undefined;
  let kind;
  try {
    kind = datasetFor(ir, undefined);
  } catch {
    if (data) throw new UsageError(`--data: no known data set fits input ${ir.input.shape.join("×")} with ${ir.labels.length} classes`);
    io.err(`note: no data set fits input ${ir.input.shape.join("×")}; checking seeded random inputs only`);
    return undefined;
  }
  try {
    const test = take(loadSplit(locateDataset(kind, data), "test"), count);
    return { values: test.images, count: test.count, source: kind };
  } catch (e) {
    if (isDataError(e) && !data) {
      io.err(`note: ${kind} test data not found (${e.message}); checking seeded random inputs only`);
      return undefined;
    }
    throw e;
  }
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
    };
  },
  async run({ dir, tolerance, backend, samples, realCount, seed, data, json }, io) {
    // A missing or changed file is refused before any data is read or anything runs.
    const { ir } = readVerifiedBuild(dir);
    const real = realSamples(ir, realCount, data, io);
    const usedBackend = await selectBackend(backend);
    const r = await verifyBuild({ buildDir: dir, randomSamples: samples, seed, tolerance, ...(real ? { real } : {}) });
    if (json) io.out(JSON.stringify({ ...r, backend: usedBackend, realSource: real?.source ?? null }));
    else {
      io.out(`${r.model} (${r.weights} weights): onnxruntime against tfjs (${usedBackend}) on ${samples} random${real ? ` and ${real.count} real ${real.source}` : ""} inputs`);
      io.out(table(["file", "output", "inputs", "fed by", "max |diff|", "top-1 agree", ""], r.checks.map(row), [false, false, false, false, true, true, false]));
      io.out(r.ok ? `all outputs within ${tolerance}` : `FAILED: ${r.checks.filter((c) => !c.ok).length} outputs differ by more than ${tolerance}`);
    }
    return r.ok ? EXIT_OK : EXIT_ERRORS;
  },
});
