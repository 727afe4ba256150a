import { existsSync } from "node:fs";
import { join } from "node:path";
import { EXIT_OK, MeanetError, UsageError } from "../diagnostics/index.js";
import { readBuild } from "../format/build.js";
import { integerFlag } from "../runtime/argv.js";
import { selectBackend } from "../runtime/train/backend.js";
import { exportBuild } from "../toolchain/export.js";
import { VERSION } from "../toolchain/package.js";
import { defineCommand } from "./command.js";
import { parseCalibrationMethod, type Calibration } from "../format/quantize.js";
import type { Io } from "./io.js";

export const usage = "usage: meanet export DIR/<model> [--data DIR] [--calibration METHOD] [--calibration-images N] [--random-weights [--seed S]]";

/** `meanet export DIR/<model>`: one ONNX file per partition, from trained or seeded initial weights; manifest.json lists their hashes. */
export const exportCommand = defineCommand({
  usage,
  options: { "random-weights": { type: "boolean" }, seed: { type: "string" }, data: { type: "string" }, calibration: { type: "string" }, "calibration-images": { type: "string" } },
  positionals: ["DIR"],
  read(values, [dir]) {
    const seed = integerFlag("seed", values.seed, { min: 0, max: 0xffffffff });
    if (seed !== undefined && !values["random-weights"]) throw new UsageError("--seed only applies with --random-weights");
    return { dir: dir!, random: Boolean(values["random-weights"]), seed, data: values.data, calibration: calibrationFlags(values.calibration, values["calibration-images"]) };
  },
  async run(a, io) {
    try {
      await exportTo(a, io);
    } catch (e) {
      if (e instanceof MeanetError && !(e instanceof UsageError)) throw e.withNote("nothing written");
      throw e;
    }
    return EXIT_OK;
  },
});

/** `--calibration METHOD` and `--calibration-images N`, over the spec's `quantize` section. */
function calibrationFlags(method: string | undefined, images: string | undefined): Partial<Calibration> {
  const out: Partial<Calibration> = {};
  if (method !== undefined) {
    const m = parseCalibrationMethod(method);
    if ("problem" in m) throw new UsageError(`--calibration: ${m.problem}`);
    Object.assign(out, m);
  }
  const n = integerFlag("calibration-images", images, { min: 1, max: 1_000_000 });
  if (n !== undefined) out.images = n;
  return out;
}

interface ExportArgs {
  dir: string;
  random: boolean;
  seed: number | undefined;
  data: string | undefined;
  calibration: Partial<Calibration>;
}

async function exportTo({ dir, random, seed, data, calibration }: ExportArgs, io: Io): Promise<void> {
  let randomSeed: number | undefined;
  if (random) {
    const build = readBuild(dir);
    // Asked for, so done, but never silently: the trained export is what serve and run would use.
    const trained = existsSync(join(dir, "train-report.json")) || build.manifest.export?.weights.kind === "trained";
    if (trained) {
      const replaced = build.manifest.export?.weights.kind === "trained" ? ", replacing the export of the trained weights" : "";
      io.err(`warning: ${dir} holds trained weights; exporting the seeded initial weights instead, as --random-weights asks${replaced}; \`meanet export ${dir}\` exports the trained ones again`);
    }
    // Initial weights come from tfjs' seeded initialisers, exactly as training would start.
    await selectBackend("auto");
    randomSeed = seed ?? build.ir.training.seed;
  }
  const r = await exportBuild({ buildDir: dir, toolVersion: VERSION, dataDir: data, calibration, warn: (line) => io.err(line), ...(randomSeed !== undefined ? { randomSeed } : {}) });
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  for (const p of r.partitions) {
    const f = r.files.find((x) => x.path === p.path)!;
    const ins = p.inputs.map((x) => x.name).join(", ");
    const outs = p.outputs.map((x) => x.name).join(", ");
    const w = p.weightBytes!;
    io.out(`${p.path}  ${p.precision}  ${kib(f.bytes)}, weights ${kib(w.shipped)} (compiled ${kib(w.compiled)})  (${ins}) → (${outs})`);
  }
  for (const f of r.files.filter((x) => !r.partitions.some((p) => p.path === x.path))) {
    io.out(`${f.path}  ${f.path.includes("/reference/") ? `(the float32 reference, ${(f.bytes / 1024).toFixed(1)} KiB)` : "(a copy for a Triton model repository)"}`);
  }
  const c = r.calibration;
  if (c) io.out(`int8 files calibrated by ${c.method === "percentile" ? `percentile(${c.percentile})` : c.method} on ${c.source}`);
  io.out(`weights: ${r.weights.kind === "random" ? `random initial weights, seed ${r.weights.seed}` : "trained"}; manifest.json lists every file with its sha256`);
}
