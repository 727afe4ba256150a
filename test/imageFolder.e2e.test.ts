/**
 * An image folder as `--data`, end to end: the first 1,000 training and 300 test images of the
 * bundled Fashion-MNIST subset written as PNGs under train/ and test/, trained, exported and
 * evaluated through the binary, against the same images read from the IDX files with
 * `--limit-train 1000 --limit-test 300`. The pixels are identical, so are the weights and every
 * figure of the evaluation.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvalReport } from "../src/format/eval.js";
import { take } from "../src/runtime/train/data/dataset.js";
import { EMBEDDED_FASHION_MNIST_DIR, FASHION_MNIST_LABELS, loadSplit, locateDataset } from "../src/runtime/train/data/locate.js";
import { writeImageFolder } from "./helpers/imageFolder.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-imgfolder-e2e-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const folder = join(tmp, "images");
const SPEC = "examples/fashion-mnist.meanet";
const TRAIN = 1000;
const TEST = 300;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const lastJson = <T>(text: string): T => JSON.parse(text.trim().split("\n").pop()!) as T;

/** Trains, exports and evaluates one build; returns its eval report and build directory. */
function pipeline(name: string, data: string, limits: string[]): { report: EvalReport; dir: string } {
  const out = join(tmp, name);
  const dir = join(out, "fashion_mnist");
  const t = cli("train", SPEC, "-o", out, "--data", data, "--epochs", "1", "--backend", "wasm", ...limits);
  expect(t.status, t.err).toBe(0);
  const x = cli("export", dir, "--data", data);
  expect(x.status, x.err).toBe(0);
  const e = cli("eval", dir, "--data", data, "--json", ...(limits.length ? ["--limit", String(TEST)] : []));
  expect([0, 1], e.err).toContain(e.status);
  return { report: lastJson<EvalReport>(e.out), dir };
}

let idx: { report: EvalReport; dir: string };
let images: { report: EvalReport; dir: string };

beforeAll(() => {
  const located = locateDataset("fashion-mnist", EMBEDDED_FASHION_MNIST_DIR);
  writeImageFolder(join(folder, "train"), take(loadSplit(located, "train"), TRAIN), FASHION_MNIST_LABELS);
  writeImageFolder(join(folder, "test"), take(loadSplit(located, "test"), TEST), FASHION_MNIST_LABELS);
  idx = pipeline("idx", EMBEDDED_FASHION_MNIST_DIR, ["--limit-train", String(TRAIN), "--limit-test", String(TEST)]);
  images = pipeline("folder", folder, []);
}, 900_000);

describe("an image folder as --data", () => {
  it("trains the weights the IDX files give for the same images", () => {
    const trained = (dir: string) => JSON.parse(readFileSync(join(dir, "train-report.json"), "utf8")) as { data: { source: string; train: number; validation: number; test: number }; exits: unknown };
    const a = trained(idx.dir);
    const b = trained(images.dir);
    expect(b.data.source).toContain("image folder");
    expect({ ...b.data, source: "" }).toEqual({ ...a.data, source: "" });
    expect(b.exits).toEqual(a.exits);
    for (const block of ["main", "adaptive", "extension", "cloud"]) {
      expect(readFileSync(join(images.dir, "weights", block, "weights.bin")).equals(readFileSync(join(idx.dir, "weights", block, "weights.bin"))), block).toBe(true);
    }
  });

  it("evaluates to the same figures", () => {
    // Everything but the data's description and the wall time.
    const { data, seconds: _s, ...figures } = images.report;
    const { data: idxData, seconds: _t, ...idxFigures } = idx.report;
    expect(data.samples).toBe(TEST);
    expect(idxData.samples).toBe(TEST);
    expect(figures).toEqual(idxFigures);
    const b = images.report.baselines;
    console.log(
      `image folder and IDX, ${TEST} test images: routed ${pct(images.report.routed.accuracy)} (IDX ${pct(idx.report.routed.accuracy)}), ` +
        `edge only ${pct(b.edgeOnly.accuracy)}, cloud only ${pct(b.cloudOnly.accuracy)}`,
    );
  });
});
