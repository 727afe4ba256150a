/**
 * `meanet predict` on the e2e tests' trained fixture: the first bundled test images written as
 * PNGs give, image by image, the answers the routed classifier gives the same images read from the
 * IDX files, and the figures `meanet run` reports on them, with the cloud served on loopback by
 * predict itself and by a `meanet serve` child; bad inputs fail with the codes of the other
 * commands.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServe, type ServeChild } from "../bench/serveChild.js";
import type { PredictReport } from "../src/runtime/infer/predict.js";
import type { RunReport } from "../src/runtime/infer/run.js";
import { openRoutedClassifier } from "../src/runtime/infer/index.js";
import { startEmbeddedCloud } from "../src/runtime/infer/embedded.js";
import { EMBEDDED_FASHION_MNIST_DIR, loadSplit, locateDataset } from "../src/runtime/train/data/locate.js";
import { pngOfImage } from "./helpers/imageFolder.js";
import { copyTrainedBuild } from "./helpers/trained.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-predict-"));
const COUNT = 100;
let dir: string;
let images: string[];
let labels: number[];
let pixels: Uint8Array;
let served: ServeChild | undefined;

afterAll(async () => {
  served?.process.kill("SIGTERM");
  await served?.exited;
  rmSync(tmp, { recursive: true, force: true });
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const lastJson = <T>(text: string): T => JSON.parse(text.trim().split("\n").pop()!) as T;

beforeAll(() => {
  dir = copyTrainedBuild(join(tmp, "build"));
  const e = cli("export", dir);
  expect(e.status, e.err).toBe(0);
  const test = loadSplit(locateDataset("fashion-mnist", EMBEDDED_FASHION_MNIST_DIR), "test", { limit: COUNT });
  mkdirSync(join(tmp, "images"));
  images = Array.from({ length: COUNT }, (_, i) => {
    const file = join(tmp, "images", `${String(i).padStart(4, "0")}.png`);
    writeFileSync(file, pngOfImage(test, i));
    return file;
  });
  labels = [...test.labels];
  pixels = test.images;
});

/** The run's figures recomputed from predict's answers and the images' labels. */
function figuresOf(p: PredictReport) {
  const exits: Record<string, { count: number; correct: number }> = {};
  let correct = 0;
  p.predictions.forEach((a, i) => {
    const ok = a.classId === labels[i];
    const x = (exits[a.exit] ??= { count: 0, correct: 0 });
    x.count++;
    if (ok) {
      x.correct++;
      correct++;
    }
  });
  return { accuracy: Number((correct / p.predictions.length).toFixed(4)), exits, degraded: p.degraded };
}

function runFigures(r: RunReport) {
  const exits: Record<string, { count: number; correct: number }> = {};
  for (const [k, v] of Object.entries(r.exits)) if (v.count) exits[k] = { count: v.count, correct: Math.round((v.accuracy ?? 0) * v.count) };
  return { accuracy: r.accuracy, exits, degraded: r.degraded };
}

/** predict and run with the same cloud flags; both must agree with the in-process classifier on the IDX pixels. */
async function compare(cloudFlags: string[], cloudUrl?: string) {
  const p = cli("predict", dir, ...images, "--json", ...cloudFlags);
  expect(p.status, p.err).toBe(0);
  const predicted = lastJson<PredictReport>(p.out);
  const r = cli("run", dir, "--data", EMBEDDED_FASHION_MNIST_DIR, "--limit", String(COUNT), "--json", ...cloudFlags);
  expect(r.status, r.err).toBe(0);
  const run = lastJson<RunReport>(r.out);
  expect(figuresOf(predicted)).toEqual(runFigures(run));
  expect(predicted.degraded).toBe(0);
  expect(predicted.predictions.filter((a) => a.exit === "cloud").length).toBeGreaterThan(0);

  // Image by image, against the router on the IDX pixels.
  const embedded = cloudUrl ? undefined : await startEmbeddedCloud(dir, undefined);
  const c = await openRoutedClassifier(dir, undefined, { cloud: cloudUrl ?? embedded!.url });
  try {
    const size = 28 * 28;
    for (let i = 0; i < COUNT; i++) {
      const [a] = await c.classify(pixels.subarray(i * size, (i + 1) * size), 1);
      const q = predicted.predictions[i]!;
      expect({ image: q.image, label: q.label, exit: q.exit, degraded: q.degraded, confidence: q.confidence }).toEqual({ image: images[i], label: a!.label, exit: a!.exit, degraded: a!.degraded, confidence: a!.confidence });
    }
  } finally {
    await c.close();
    await embedded?.close();
  }
  return predicted;
}

describe("meanet predict", () => {
  it("answers as the router and meanet run do, with its own loopback cloud", async () => {
    const p = await compare([]);
    const exits = Object.entries(figuresOf(p).exits).map(([k, v]) => `${k} ${v.count}`).join(", ");
    console.log(`predict on ${COUNT} bundled test images as PNGs: accuracy ${(figuresOf(p).accuracy * 100).toFixed(1)}%, exits ${exits}`);
  });

  it("answers as they do through a meanet serve child (--cloud URL)", async () => {
    served = await startServe([], "bin/meanet.js", [dir, "--port", "0"]);
    const url = served.url.origin;
    const p = await compare(["--cloud", url], url);
    expect(p.cloud).toBe(url);
  });

  it("prints one row per image: label, exit, confidence, degraded, edge and cloud time", () => {
    const r = cli("predict", dir, images[0]!, images[1]!);
    expect(r.status, r.err).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toMatch(/^fashion_mnist: 2 images, cloud http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines[1]).toMatch(/^image\s+label\s+exit\s+confidence\s+degraded\s+edge ms\s+cloud ms$/);
    expect(lines.slice(3)).toHaveLength(2);
    expect(lines[3]).toContain(images[0]);
  });

  it("fails on a missing file (MN5004), a file that is not an image (MN5003) and a folder that is not a build (MN5005), with exit 1; no image is a usage error", () => {
    const text = join(tmp, "notes.png");
    writeFileSync(text, "not a picture");
    const cases = [
      { args: [dir, join(tmp, "missing.png")], code: "MN5004", names: join(tmp, "missing.png") },
      { args: [dir, images[0]!, text], code: "MN5003", names: text },
      { args: [tmp, images[0]!], code: "MN5005", names: tmp },
    ];
    for (const c of cases) {
      const r = cli("predict", ...c.args);
      expect(r.status, r.err).toBe(1);
      expect(r.err).toContain(`error ${c.code}`);
      expect(r.err).toContain(c.names);
      expect(r.out).toBe("");
    }
    const u = cli("predict", dir);
    expect(u.status).toBe(2);
    expect(u.err).toContain("usage: meanet predict DIR/<model> IMAGE…");
  });
});
