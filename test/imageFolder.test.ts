/**
 * Image folders as data: detection from `--data`, the splits (train/ val/ test/, or seeded), the
 * pixels against the IDX loader, the conversion rule (channels, resize, crop), and the errors.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { afterAll, describe, expect, it } from "vitest";
import { Codes } from "../src/diagnostics/index.js";
import type { IrJson } from "../src/format/ir.js";
import { take, type Dataset } from "../src/runtime/train/data/dataset.js";
import { decodeImage, toInputPixels } from "../src/runtime/train/data/images.js";
import { EMBEDDED_FASHION_MNIST_DIR, FASHION_MNIST_LABELS, datasetFor, loadSplit, locateDataset, locateFor } from "../src/runtime/train/data/locate.js";
import { loadTrainingData } from "../src/runtime/train/run.js";
import { pngOf, writeImageFolder } from "./helpers/imageFolder.js";
import { meanetErrorOf } from "./helpers/throws.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-imgfolder-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const labels = [...FASHION_MNIST_LABELS];
const spec = { input: { shape: [28, 28, 1] }, labels };
const idxTest = loadSplit(locateDataset("fashion-mnist", EMBEDDED_FASHION_MNIST_DIR), "test");
let n = 0;
const fresh = () => join(tmp, `f${n++}`);

const thrown = meanetErrorOf;

/** train/ (images 0..59), test/ (60..99) and, when asked, val/ (100..199) of the bundled test split. */
function splitFolder(withVal = false): { dir: string; train: Dataset; test: Dataset; val: Dataset } {
  const dir = fresh();
  const part = (from: number, count: number): Dataset => {
    const size = 28 * 28;
    return { ...idxTest, images: idxTest.images.slice(from * size, (from + count) * size), labels: idxTest.labels.slice(from, from + count), count };
  };
  const train = part(0, 60);
  const test = part(60, 40);
  const val = part(100, 100);
  writeImageFolder(join(dir, "train"), train, labels);
  writeImageFolder(join(dir, "test"), test, labels);
  if (withVal) writeImageFolder(join(dir, "val"), val, labels);
  return { dir, train, test, val };
}

describe("image folders", () => {
  it("are detected from --data and give the IDX loader's pixels and labels, in its order", () => {
    const { dir, train, test } = splitFolder();
    expect(datasetFor(spec, undefined, dir)).toBe("folder");
    expect(datasetFor(spec, undefined, EMBEDDED_FASHION_MNIST_DIR)).toBe("fashion-mnist");
    const located = locateFor(spec, dir);
    expect(located.kind).toBe("folder");
    expect(located.description).toContain("train/, test/: 60 train / 40 test images");
    const t = loadSplit(located, "train");
    expect(t.count).toBe(60);
    expect(Buffer.from(t.images).equals(Buffer.from(train.images))).toBe(true);
    expect([...t.labels]).toEqual([...train.labels]);
    const s = loadSplit(located, "test", { limit: 7 });
    expect(Buffer.from(s.images).equals(Buffer.from(take(test, 7).images))).toBe(true);
  });

  it("honour val/: training uses it instead of holding images out of train/", () => {
    const { dir, val } = splitFolder(true);
    const ir = { ...spec, training: { validationSplit: 0.5 } } as unknown as IrJson;
    const data = loadTrainingData(ir, { data: dir });
    expect(data.train.count).toBe(60);
    expect(data.validation?.count).toBe(100);
    expect(Buffer.from(data.validation!.images).equals(Buffer.from(val.images))).toBe(true);
    expect(data.source).toContain("train/, val/ and test/");
  });

  it("without split folders, put a seeded 20% of each class in test, the same every time", () => {
    const dir = fresh();
    writeImageFolder(dir, take(idxTest, 100), labels);
    const a = locateFor(spec, dir);
    const b = locateFor(spec, dir);
    expect(a.files).toEqual(b.files);
    const perClass = labels.map((_, c) => [...take(idxTest, 100).labels].filter((l) => l === c).length);
    const expected = perClass.reduce((s, k) => s + Math.round(0.2 * k), 0);
    const train = a.files.train.format === "folder" ? a.files.train.images.map((i) => i.file) : [];
    const test = a.files.test.format === "folder" ? a.files.test.images.map((i) => i.file) : [];
    expect(test.length).toBe(expected);
    expect(train.length + test.length).toBe(100);
    expect(new Set([...train, ...test]).size).toBe(100);
    expect(a.description).toContain("seeded 20% of each class for test");
  });

  it("skip files that are not images in class folders, and count them", () => {
    const { dir } = splitFolder();
    writeFileSync(join(dir, "README.txt"), "notes");
    writeFileSync(join(dir, "train", "Bag", "notes.txt"), "x");
    writeFileSync(join(dir, "train", "Bag", ".DS_Store"), "x");
    const located = locateFor(spec, dir);
    expect(located.description).toContain("3 files skipped that are not a .png/.jpg/.jpeg in a class folder");
    expect(loadSplit(located, "train").count).toBe(60);
  });
});

describe("image folder errors", () => {
  it("class folders that differ from the labels: MN5003 naming the missing and the extra ones", () => {
    const { dir } = splitFolder();
    rmSync(join(dir, "test", "Sandal"), { recursive: true });
    mkdirSync(join(dir, "test", "Sandals"));
    writeFileSync(join(dir, "test", "Sandals", "a.png"), pngOf(new Uint8Array(784), 28, 28, 1));
    const e = thrown(() => locateFor(spec, dir));
    expect(e.code).toBe(Codes.DataCorrupt);
    expect(e.message).toContain(join(dir, "test"));
    expect(e.message).toContain('no folder for label "Sandal"');
    expect(e.message).toContain('folder "Sandals" matches no label');
  });

  it("an empty class folder: MN5004 naming it", () => {
    const { dir } = splitFolder();
    rmSync(join(dir, "train", "Bag"), { recursive: true });
    mkdirSync(join(dir, "train", "Bag"));
    writeFileSync(join(dir, "train", "Bag", "list.csv"), "a,b");
    const e = thrown(() => locateFor(spec, dir));
    expect(e.code).toBe(Codes.DataMissing);
    expect(e.message).toContain(join(dir, "train", "Bag"));
    expect(e.message).toContain("holds no .png, .jpg or .jpeg file");
  });

  it("train/ without test/: MN5004", () => {
    const { dir } = splitFolder();
    rmSync(join(dir, "test"), { recursive: true });
    const e = thrown(() => locateFor(spec, dir));
    expect(e.code).toBe(Codes.DataMissing);
    expect(e.message).toContain("train/ but no test/");
  });

  it("a corrupt PNG and a text file named .jpg: MN5003 naming the file, when the split is loaded", () => {
    for (const [name, bytes] of [
      ["broken.png", pngOf(new Uint8Array(784), 28, 28, 1).subarray(0, 60)],
      ["text.jpg", Buffer.from("not an image at all")],
    ] as const) {
      const { dir } = splitFolder();
      const file = join(dir, "test", "Coat", name);
      writeFileSync(file, bytes);
      const located = locateFor(spec, dir);
      const e = thrown(() => loadSplit(located, "test"));
      expect(e.code).toBe(Codes.DataCorrupt);
      expect(e.message).toContain(file);
    }
  });

  it("a spec whose input is not H×W×1 or H×W×3: MN5003", () => {
    const { dir } = splitFolder();
    const e = thrown(() => locateFor({ input: { shape: [28, 28, 4] }, labels }, dir));
    expect(e.code).toBe(Codes.DataCorrupt);
    expect(e.message).toContain("H×W×1 or H×W×3");
  });
});

describe("the conversion rule", () => {
  const rgb = (w: number, h: number, f: (x: number, y: number) => [number, number, number]) => {
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgba.set([...f(x, y), 255], 4 * (y * w + x));
    return { width: w, height: h, rgba };
  };

  it("luma by BT.601 weights in 16-bit fixed point; gray stays exact", () => {
    const px = toInputPixels(rgb(1, 1, () => [255, 0, 0]), [1, 1, 1]);
    expect(px[0]).toBe(76);
    for (const v of [0, 1, 127, 200, 255]) expect(toInputPixels(rgb(1, 1, () => [v, v, v]), [1, 1, 1])[0]).toBe(v);
    expect([...toInputPixels(rgb(1, 1, () => [10, 20, 30]), [1, 1, 3])]).toEqual([10, 20, 30]);
  });

  it("mixed sizes: scaled to cover, the centre kept", () => {
    // 4 wide × 8 tall into 4×4: no scaling, rows 2..5 kept.
    const tall = rgb(4, 8, (x, y) => [y * 10, 0, 0]);
    const out = toInputPixels(tall, [4, 4, 3]);
    expect([0, 1, 2, 3].map((y) => out[(y * 4) * 3])).toEqual([20, 30, 40, 50]);
    // A constant 56×40 image into 28×28 stays constant; a 2× smaller image is enlarged.
    expect(new Set(toInputPixels(rgb(56, 40, () => [90, 90, 90]), [28, 28, 1]))).toEqual(new Set([90]));
    expect(new Set(toInputPixels(rgb(14, 14, () => [7, 7, 7]), [28, 28, 1]))).toEqual(new Set([7]));
  });

  it("JPEG files decode", () => {
    const w = 16;
    const data = Buffer.alloc(w * w * 4, 128);
    const bytes = jpeg.encode({ width: w, height: w, data }, 95).data;
    const px = toInputPixels(decodeImage(bytes, "x.jpg"), [8, 8, 1]);
    for (const v of px) expect(Math.abs(v - 128)).toBeLessThanOrEqual(2);
  });
});
