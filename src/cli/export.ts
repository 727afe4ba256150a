import { existsSync } from "node:fs";
import { join } from "node:path";
import { readBuild } from "../format/build.js";
import { exportBuild } from "../toolchain/export.js";
import { selectBackend } from "../runtime/train/backend.js";
import { parseCommandArgs } from "./args.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { VERSION } from "../toolchain/package.js";
import { MeanetError } from "../diagnostics/index.js";

export const usage = "usage: meanet export DIR/<model> [--random-weights [--seed S]]";

function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) throw new UsageError(`--seed must be an integer from 0 to 4294967295, not \`${text}\`\n${usage}`);
  return Number(text);
}

/** `meanet export DIR/<model>`: one ONNX file per partition, from trained or seeded initial weights; manifest.json lists their hashes. */
export async function exportCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { "random-weights": { type: "boolean" }, seed: { type: "string" }, help: { type: "boolean", short: "h" } },
    usage,
    { min: 0, max: 1 },
  );
  if (values.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(usage);
  const seed = parseSeed(values.seed);
  if (seed !== undefined && !values["random-weights"]) throw new UsageError(`--seed only applies with --random-weights\n${usage}`);
  const dir = positionals[0]!;
  try {
    let randomSeed: number | undefined;
    if (values["random-weights"]) {
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
    const r = await exportBuild({ buildDir: dir, toolVersion: VERSION, ...(randomSeed !== undefined ? { randomSeed } : {}) });
    for (const p of r.partitions) {
      const f = r.files.find((x) => x.path === p.path)!;
      const ins = p.inputs.map((x) => x.name).join(", ");
      const outs = p.outputs.map((x) => x.name).join(", ");
      io.out(`${p.path}  ${(f.bytes / 1024).toFixed(1)} KiB  (${ins}) → (${outs})`);
    }
    for (const f of r.files.filter((x) => !r.partitions.some((p) => p.path === x.path))) io.out(`${f.path}  (a copy for a Triton model repository)`);
    io.out(`weights: ${r.weights.kind === "random" ? `random initial weights, seed ${r.weights.seed}` : "trained"}; manifest.json lists every file with its sha256`);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof MeanetError) {
      io.err(`error ${e.code}: ${e.message}\nnothing written`);
      return EXIT_ERRORS;
    }
    throw e;
  }
}
