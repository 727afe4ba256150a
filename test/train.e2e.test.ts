/**
 * Training on real Fashion-MNIST: the main exit learns, a seed repeats its weights, an interrupted
 * run resumes, augmentation, the hard-class stage, joint training, the generated training
 * program, and `meanet train` stopped by SIGINT (what it says, and the rerun that resumes). Each test trains its own small model with the settings it is about (a stage list, a
 * seed, a resumption, a mode), so none of them can use the e2e tests' shared trained fixture.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitIrJson, type IrJson } from "../src/codegen/index.js";
import { Codes, MeanetError } from "../src/diagnostics/index.js";
import { buildFiles, writeBuild } from "../src/toolchain/buildFiles.js";
import { loadSpec } from "../src/toolchain/load.js";
import { main } from "../src/cli/main.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { take } from "../src/runtime/train/data/dataset.js";
import { registerWasmGradientKernels } from "../src/runtime/train/kernels/index.js";
import { silentProgress } from "../src/runtime/train/progress.js";
import { trainModel, TrainingInterrupted } from "../src/runtime/train/recipe.js";
import { loadTrainingData } from "../src/runtime/train/run.js";
import { withoutDeferral } from "./helpers/buildSpec.js";

/** Each test that trains says how long it may take, above the e2e tier's default. */
const TRAINING_TIMEOUT_MS = 600_000;

const tmp = mkdtempSync(join(tmpdir(), "meanet-train-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await selectBackend("wasm", () => void registerWasmGradientKernels());
});

function irOf(file: string): { ir: IrJson; text: string } {
  const r = loadSpec(file);
  const ir = emitIrJson(r.ir!, r.shapes, r.results);
  return { ir, text: JSON.stringify(ir) };
}

/** The Fashion-MNIST example with only its main stage, for quick runs. */
function mainOnly(epochs: number): { ir: IrJson; text: string } {
  const { ir } = irOf("examples/fashion-mnist.meanet");
  const stages = ir.training.stages.filter((s) => s.name === "main").map((s) => ({ ...s, epochs }));
  const out = { ...ir, training: { ...ir.training, stages } };
  return { ir: out, text: JSON.stringify(out) };
}

function weightsOf(dir: string, blocks: string[]): Buffer[] {
  return blocks.map((b) => readFileSync(join(dir, "weights", b, "weights.bin")));
}

describe("training", () => {
  it("learns: 5,000 real Fashion-MNIST images, then the main exit scores ≥ 70% on 1,000 test images", async () => {
    const { ir, text } = mainOnly(2);
    const data = loadTrainingData(ir, { limitTrain: 5000, limitTest: 1000 });
    const report = await trainModel({ ir, train: data.train, test: data.test, dataSource: data.source, outDir: join(tmp, "learn"), backend: "wasm", progress: silentProgress });
    const main = report.exits.find((e) => e.name === "main")!;
    expect(main.samples).toBe(1000);
    expect(main.accuracy).toBeGreaterThanOrEqual(0.7);
    expect(report.stages[0]!.samples).toBe(2 * 4500);
  }, TRAINING_TIMEOUT_MS);

  it("same seed, same data → identical weights", async () => {
    const { ir, text } = mainOnly(1);
    const data = loadTrainingData(ir, { limitTrain: 600, limitTest: 100 });
    for (const run of ["a", "b"]) {
      await trainModel({ ir, train: data.train, test: data.test, dataSource: data.source, outDir: join(tmp, `det-${run}`), backend: "wasm", progress: silentProgress });
    }
    const blocks = ir.blocks.map((b) => b.name);
    expect(weightsOf(join(tmp, "det-a"), blocks)).toEqual(weightsOf(join(tmp, "det-b"), blocks));
  }, TRAINING_TIMEOUT_MS);

  it("an interrupted run resumes from its checkpoint and ends where an uninterrupted one does", async () => {
    const { ir, text } = mainOnly(2);
    const data = loadTrainingData(ir, { limitTrain: 600, limitTest: 100 });
    const opts = { ir, train: data.train, test: data.test, dataSource: data.source, backend: "wasm", progress: silentProgress };
    await trainModel({ ...opts, outDir: join(tmp, "whole") });
    await expect(trainModel({ ...opts, outDir: join(tmp, "resumed"), stopAfterEpochs: 1 })).rejects.toBeInstanceOf(TrainingInterrupted);
    const resumed = await trainModel({ ...opts, outDir: join(tmp, "resumed") });
    expect(resumed.stages[0]!.epochs).toBe(2);
    const blocks = ir.blocks.map((b) => b.name);
    expect(weightsOf(join(tmp, "resumed"), blocks)).toEqual(weightsOf(join(tmp, "whole"), blocks));
  }, TRAINING_TIMEOUT_MS);

  it("trains with random crop + flip augmentation when the stage asks for it, reproducibly", async () => {
    const { ir } = mainOnly(1);
    const aug = { ...ir, training: { ...ir.training, stages: ir.training.stages.map((s) => ({ ...s, augment: "crop_flip" as const })) } };
    const data = loadTrainingData(aug, { limitTrain: 300, limitTest: 100 });
    const opts = { ir: aug, train: data.train, test: data.test, dataSource: data.source, backend: "wasm", progress: silentProgress };
    const a = await trainModel({ ...opts, outDir: join(tmp, "aug-a") });
    await trainModel({ ...opts, outDir: join(tmp, "aug-b") });
    const plain = await trainModel({ ...opts, ir, outDir: join(tmp, "aug-none") });
    expect(Number.isFinite(a.stages[0]!.finalLoss)).toBe(true);
    expect(weightsOf(join(tmp, "aug-a"), ["main"])).toEqual(weightsOf(join(tmp, "aug-b"), ["main"]));
    expect(weightsOf(join(tmp, "aug-a"), ["main"])).not.toEqual(weightsOf(join(tmp, "aug-none"), ["main"]));
    expect(plain.stages[0]!.finalLoss).not.toBe(a.stages[0]!.finalLoss);
  }, TRAINING_TIMEOUT_MS);

  it("takes the subset of hard classes for the extension stage, with the hard classes recorded", async () => {
    const { ir, text } = irOf("examples/fashion-mnist.meanet");
    const tiny = { ...ir, training: { ...ir.training, stages: ir.training.stages.map((s) => ({ ...s, epochs: 1 })) } };
    const data = loadTrainingData(tiny, { limitTrain: 400, limitTest: 200 });
    const report = await trainModel({ ir: tiny, train: data.train, test: data.test, dataSource: data.source, outDir: join(tmp, "stages"), backend: "wasm", progress: silentProgress });
    expect(report.hardClasses.ids).toHaveLength(5);
    const hardTrain = [...take(data.train, data.train.count).labels].filter((l) => report.hardClasses.ids.includes(l)).length;
    // The validation split takes 10% of each class, so the hard-class stage sees about 90% of their images.
    expect(Math.abs(report.stages[1]!.samples - 0.9 * hardTrain)).toBeLessThanOrEqual(5);
    // The example's last stage fits its learned deferral rule on half of the held-out images.
    expect(report.stages.map((s) => s.name)).toEqual(["main", "extension", "cloud", "defer"]);
    const held = report.data.validation;
    expect(report.deferral).toMatchObject({ stage: "defer", samples: Math.floor(held / 2), rows: { from: 0, to: Math.floor(held / 2), of: held } });
    expect(JSON.parse(readFileSync(join(tmp, "stages", "weights", "defer.json"), "utf8")).exits).toEqual([{ name: "main", k: 10 }, { name: "extension", k: 5 }]);
    expect(report.perClassAccuracy!.values).toHaveLength(10);
  }, TRAINING_TIMEOUT_MS);
});

describe("joint training", () => {
  it("optimises the weighted sum of exit losses, masking samples an exit does not cover", async () => {
    const spec = withoutDeferral(readFileSync("examples/fashion-mnist.meanet", "utf8"))
      .replace(/complexity \{[^}]*\}/, 'complexity {\n  hard: ["T-shirt/top", "Pullover", "Coat", "Shirt", "Dress"]\n}')
      .replace(/train \{[\s\S]*?\n\}\n/, "train {\n  mode: joint\n  seed: 3\n  stage all { train: [main, adaptive, extension], loss: weighted(main: 1, extension: 0.5), epochs: 1, batch: 64 }\n}\n");
    const path = join(tmp, "joint.meanet");
    writeFileSync(path, spec.replace('import "std/resnet"', `import "${resolve("dsl/std/resnet")}"`));
    const r = loadSpec(path);
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const ir = emitIrJson(r.ir!, r.shapes, r.results);
    expect(ir.training.mode).toBe("joint");
    const data = loadTrainingData(ir, { limitTrain: 500, limitTest: 200 });
    const report = await trainModel({ ir, train: data.train, test: data.test, dataSource: data.source, outDir: join(tmp, "joint"), backend: "wasm", progress: silentProgress });
    expect(report.stages.map((x) => x.name)).toEqual(["all"]);
    expect(report.hardClasses.labels).toEqual(["T-shirt/top", "Pullover", "Coat", "Shirt", "Dress"]);
    expect(Number.isFinite(report.stages[0]!.finalLoss)).toBe(true);
    const ext = report.exits.find((e) => e.name === "extension")!;
    // The extension exit is scored on the test images of the five hard classes only.
    expect(ext.samples).toBe([...data.test.labels].filter((l) => [0, 2, 3, 4, 6].includes(l)).length);
  }, TRAINING_TIMEOUT_MS);
});

function withTrain(name: string, train: string): { ir: IrJson; path: string } {
  const spec = withoutDeferral(readFileSync("examples/fashion-mnist.meanet", "utf8"))
    .replace(/train \{[\s\S]*?\n\}\n/, `train {\n  seed: 1\n${train}\n}\n`)
    .replace('import "std/resnet"', `import "${resolve("dsl/std/resnet")}"`);
  const path = join(tmp, `${name}.meanet`);
  writeFileSync(path, spec);
  const r = loadSpec(path);
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return { ir: emitIrJson(r.ir!, r.shapes, r.results), path };
}

describe("training plans the runtime cannot run", () => {
  let data: ReturnType<typeof loadTrainingData> | undefined;
  const train = (ir: IrJson, out: string) => {
    data ??= loadTrainingData(ir, { limitTrain: 100, limitTest: 50 });
    return trainModel({ ir, train: data.train, test: data.test, dataSource: data.source, outDir: join(tmp, out), backend: "wasm", progress: silentProgress });
  };

  it("a stage that trains no block with an exit is an error naming the stage", async () => {
    const { ir } = withTrain("no-exit", "  stage adapt { train: [adaptive], epochs: 1 }\n  stage main { train: [main], epochs: 1 }");
    const e = await train(ir, "no-exit").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MeanetError);
    expect((e as MeanetError).code).toBe(Codes.BadStage);
    expect((e as MeanetError).message).toBe(
      "training stage `adapt` of `fashion_mnist` trains no block with an exit (it trains `adaptive`), so it has no loss to minimise; add a block with an exit to its `train` list (`main`, `extension`, `cloud`), or train these blocks in a stage that has one",
    );
  });

  it("a joint stage whose loss weights no exit is an error naming the stage", async () => {
    const { ir } = withTrain("no-weights", "  stage all { train: [main], epochs: 1 }");
    // As a hand-edited ir.json would have it: `loss: weighted()` with no exit.
    const edited = { ...ir, training: { ...ir.training, stages: ir.training.stages.map((s) => ({ ...s, lossWeights: {} })) } };
    await expect(train(edited, "no-weights")).rejects.toThrow(/^training stage `all` of `fashion_mnist` weights no exit's loss: .*name at least one \(`main`, `extension`, `cloud`\)$/);
  });

  it("a stage that needs the hard classes before any stage ranked them is an error naming the stage and the ranking exit", async () => {
    const { ir, path } = withTrain("hard-first", "  stage extension { train: [adaptive, extension], freeze: [main], data: hard, epochs: 1 }\n  stage main { train: [main], epochs: 1 }");
    const e = await train(ir, "hard-first").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MeanetError);
    expect((e as MeanetError).code).toBe(Codes.BadStage);
    expect((e as MeanetError).message).toBe(
      "training stage `extension` of `fashion_mnist` needs the hard classes for its `data: hard`, but no earlier stage trains exit `main` (block `main`), whose validation accuracy ranks them; " +
        "put a stage that trains `main` before it, or name the hard classes in `complexity { hard: [...] }`",
    );
    // An exit over the hard classes needs them as well, whatever data the stage takes.
    const allData = { ...ir, training: { ...ir.training, stages: ir.training.stages.map((s) => ({ ...s, data: "all" as const })) } };
    await expect(train(allData, "hard-exit")).rejects.toThrow(/needs the hard classes for exit `extension`, which is over the hard classes, but/);

    // The command line prints it as an error of the spec, not as a bug.
    const err: string[] = [];
    const io = { out: () => {}, err: (s: string) => void err.push(s), isTty: false };
    const code = await main(["train", path, "-o", join(tmp, "hard-first-cli"), "--limit-train", "100", "--limit-test", "50", "--backend", "wasm"], io);
    expect(code).toBe(1);
    expect(err.join("\n")).toMatch(/^error MN2022: training stage `extension` of `fashion_mnist` needs the hard classes/m);
    expect(err.join("\n")).not.toMatch(/internal error|bug/);
  });
});

/** `bin/meanet.js ARGS` until it exits, sending SIGINT once a line of standard error matches `stopAt`. */
function meanet(args: string[], stopAt?: RegExp): Promise<{ code: number | null; err: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["bin/meanet.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    let sent = false;
    child.stdout.resume();
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (stopAt && !sent && stopAt.test(err)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    child.on("close", (code) => done({ code, err }));
  });
}

describe("meanet train", () => {
  it("ends each epoch's line with the validation accuracy and the time left; on SIGINT says where it stopped, what is kept and how to resume (exit 130), and the rerun resumes", async () => {
    const out = join(tmp, "sigint");
    const flags = ["--epochs", "2", "--limit-train", "1000", "--limit-test", "100", "--backend", "wasm"];
    const stopped = await meanet(["train", "examples/fashion-mnist.meanet", "-o", out, ...flags], /main epoch 1\/2: .*\n/);
    expect(stopped.code, stopped.err).toBe(130);
    expect(stopped.err).toMatch(/^main epoch 1\/2: loss \d\.\d{4}, train accuracy \d\.\d{4}, validation \d\.\d{4}, \d+ samples\/s, \d+s left in main, ~(\d+m )?\d+s in the run$/m);
    expect(stopped.err).toMatch(/^training stopped \(SIGINT\) (during main epoch 2\/2|after main epoch 1\/2)$/m);
    const dir = join(out, "fashion_mnist");
    expect(stopped.err).toContain(`kept: the checkpoint after main epoch 1/2 in ${join(dir, "checkpoint")} (weights/ and train-report.json are written when training ends); the next run resumes from it`);
    const command = /^resume with: (.*)$/m.exec(stopped.err)![1]!;
    expect(command).toBe(`meanet train examples/fashion-mnist.meanet -o ${out} ${flags.join(" ")}`);

    const resumed = await meanet(command.split(" ").slice(1));
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toContain("resuming from checkpoint: stage main, epoch 1");
    expect(resumed.err).not.toMatch(/^main epoch 1\/2/m);
    expect(resumed.err).toMatch(/^main epoch 2\/2: .*validation \d\.\d{4}/m);
    expect(resumed.err).toMatch(/^cloud epoch 2\/2: loss [^,]+, train accuracy [^,]+, validation \d\.\d{4}, \d+ samples\/s$/m);
    expect(JSON.parse(readFileSync(join(dir, "train-report.json"), "utf8")).stages.map((x: { epochs: number }) => x.epochs)).toEqual([2, 2, 2, 300]);
  }, TRAINING_TIMEOUT_MS);
});

describe("generated training program", () => {
  it("type-checks, runs on tiny data, and gives the same weights as `meanet train`", async () => {
    const out = join(tmp, "gen");
    const r = loadSpec("examples/fashion-mnist.meanet");
    const b = buildFiles(r, out);
    writeBuild(r, b);
    const program = join(b.dir, "train", "train.ts");

    const host = ts.createCompilerHost({});
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ["node"],
      typeRoots: [resolve("node_modules/@types")],
      baseUrl: resolve("."),
      paths: { "meanet/runtime": [resolve("src/runtime/index.ts")] },
    };
    const tsProgram = ts.createProgram([program], options, host);
    const errors = ts.getPreEmitDiagnostics(tsProgram).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(errors).toEqual([]);

    // The program imports `meanet/runtime` as an installed package would.
    mkdirSync(join(out, "node_modules"), { recursive: true });
    symlinkSync(resolve("."), join(out, "node_modules", "meanet"), "dir");
    const flags = ["--limit-train", "300", "--limit-test", "100", "--epochs", "1", "--backend", "wasm"];
    const run = spawnSync(process.execPath, ["--import", "tsx", program, ...flags], { encoding: "utf8", cwd: resolve(".") });
    expect(run.stderr + run.stdout).toContain("hard classes:");
    expect(run.status).toBe(0);

    const viaCli = join(tmp, "cli");
    const io = { out: () => {}, err: () => {}, isTty: false };
    expect(await main(["train", "examples/fashion-mnist.meanet", "-o", viaCli, ...flags], io)).toBe(0);
    const blocks = b.irJson.blocks.map((x) => x.name);
    expect(weightsOf(b.dir, blocks)).toEqual(weightsOf(join(viaCli, "fashion_mnist"), blocks));
    const manifest = JSON.parse(readFileSync(join(viaCli, "fashion_mnist", "manifest.json"), "utf8"));
    expect(manifest.hardClasses.labels).toHaveLength(5);
    expect(manifest.artifacts.map((a: { path: string }) => a.path)).toContain("weights/main/weights.bin");
  }, TRAINING_TIMEOUT_MS);
  it("finds the runtime of the checkout it is compiled into, and says what it needs outside one", () => {
    // A build in ./build of a clone, no installed package: train/package.json cuts Node's self-reference off.
    const inClone = join("build", `.train-program-test-${process.pid}`);
    rmSync(inClone, { recursive: true, force: true });
    try {
      const b = buildFiles(loadSpec("examples/fashion-mnist.meanet"), inClone);
      writeBuild(loadSpec("examples/fashion-mnist.meanet"), b);
      const help = spawnSync(process.execPath, ["--import", "tsx", join(b.dir, "train", "train.ts"), "--help"], { encoding: "utf8" });
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^usage: train\.ts \[--help\] \[--data DIR\]/);
    } finally {
      rmSync(inClone, { recursive: true, force: true });
    }
    const outside = join(tmp, "outside");
    const b = buildFiles(loadSpec("examples/fashion-mnist.meanet"), outside);
    writeBuild(loadSpec("examples/fashion-mnist.meanet"), b);
    const r = spawnSync(process.execPath, ["--import", "tsx", join(b.dir, "train", "train.ts"), "--help"], { encoding: "utf8", cwd: resolve(".") });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: train\/train\.ts needs the meanet package: found neither installed \(npm install meanet beside the build\) nor around /m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

