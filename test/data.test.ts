import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { Codes } from "../src/diagnostics/index.js";
import {
  classHistogram,
  decodeIdxImages,
  EMBEDDED_FASHION_MNIST_DIR,
  encodeIdx,
  filterClasses,
  labelNames,
  loadCifar,
  loadIdxDataset,
  loadIdxImages,
  loadIdxLabels,
  loadSplit,
  locateDataset,
  mulberry32,
  permutation,
  randomCropFlip,
  shuffle,
  splitValidation,
  SYSTEM_FASHION_MNIST_DIR,
  take,
  type Dataset,
} from "../src/runtime/train/data/index.js";
import { cutSubset, SUBSET_COUNTS } from "../data/fashion-mnist/cut-subset.js";
import {
  cifarBytes,
  cifarPixel,
  IDX_COUNT,
  IDX_H,
  IDX_LABELS,
  IDX_W,
  idxPixel,
  writeCorruptFiles,
  writeIdxDataset,
} from "./fixtures/data/formats.js";
import { meanetErrorOf } from "./helpers/throws.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-data-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const dataError = meanetErrorOf;

/** A synthetic dataset whose image i starts with byte i % 256 and whose label is i % classes. */
function synthetic(count: number, classes: number, h = 4, w = 4, c = 1): Dataset {
  const size = h * w * c;
  const images = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) for (let k = 0; k < size; k++) images[i * size + k] = (i + k * 13) & 0xff;
  const labels = Int32Array.from({ length: count }, (_, i) => i % classes);
  return { images, labels, count, height: h, width: w, channels: c, classes };
}

describe("IDX loader", () => {
  for (const gzip of [false, true]) {
    it(`reads ${gzip ? "gzipped" : "raw"} images and labels with every pixel in place`, () => {
      const dir = join(tmp, gzip ? "idx-gz" : "idx-raw");
      writeIdxDataset(dir, { gzip });
      const ext = gzip ? ".gz" : "";
      const ds = loadIdxDataset(join(dir, `train-images-idx3-ubyte${ext}`), join(dir, `train-labels-idx1-ubyte${ext}`));
      expect([ds.count, ds.height, ds.width, ds.channels, ds.classes]).toEqual([IDX_COUNT, IDX_H, IDX_W, 1, 10]);
      expect(Array.from(ds.labels)).toEqual(IDX_LABELS);
      expect(ds.images.length).toBe(IDX_COUNT * IDX_H * IDX_W);
      for (let i = 0; i < IDX_COUNT; i++)
        for (let y = 0; y < IDX_H; y++) for (let x = 0; x < IDX_W; x++) expect(ds.images[(i * IDX_H + y) * IDX_W + x]).toBe(idxPixel(i, y, x));
    });
  }

  it("sniffs gzip by content, whatever the file is called", () => {
    const dir = join(tmp, "idx-gz");
    const bytes = readFileSync(join(dir, "train-images-idx3-ubyte.gz"));
    writeFileSync(join(tmp, "renamed-images"), bytes);
    expect(loadIdxImages(join(tmp, "renamed-images")).count).toBe(IDX_COUNT);
  });

  it("encodeIdx writes what the loader reads", () => {
    const pixels = Uint8Array.from({ length: 2 * 3 * 2 }, (_, k) => k * 7);
    const back = decodeIdxImages(encodeIdx([2, 3, 2], pixels), "mem");
    expect([back.count, back.height, back.width]).toEqual([2, 3, 2]);
    expect(Array.from(back.pixels)).toEqual(Array.from(pixels));
  });
});

describe("CIFAR loader", () => {
  const labels10 = [6, 9, 9, 4, 1].map((l) => [0, l] as const);
  const labels100 = [
    [11, 19],
    [15, 29],
    [4, 0],
    [14, 11],
    [1, 1],
  ] as const;

  function checkPixels(ds: Dataset): void {
    expect([ds.height, ds.width, ds.channels]).toEqual([32, 32, 3]);
    for (let i = 0; i < ds.count; i++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++)
          for (let c = 0; c < 3; c++) {
            const got = ds.images[((i * 32 + y) * 32 + x) * 3 + c];
            if (got !== cifarPixel(i, y, x, c)) throw new Error(`image ${i} (${y},${x},${c}): ${got} ≠ ${cifarPixel(i, y, x, c)}`);
          }
  }

  it("CIFAR-10: R, G, B planes become NHWC pixel by pixel; labels read", () => {
    const file = join(tmp, "c10.bin");
    writeFileSync(file, cifarBytes("cifar10", labels10));
    const ds = loadCifar(file, { variant: "cifar10" });
    expect(ds.count).toBe(5);
    expect(ds.classes).toBe(10);
    expect(Array.from(ds.labels)).toEqual([6, 9, 9, 4, 1]);
    checkPixels(ds);
  });

  it("CIFAR-100: fine labels by default, coarse on request", () => {
    const file = join(tmp, "c100.bin");
    writeFileSync(file, cifarBytes("cifar100", labels100));
    const fine = loadCifar(file, { variant: "cifar100" });
    expect(Array.from(fine.labels)).toEqual([19, 29, 0, 11, 1]);
    expect(fine.classes).toBe(100);
    checkPixels(fine);
    const coarse = loadCifar(file, { variant: "cifar100", labels: "coarse" });
    expect(Array.from(coarse.labels)).toEqual([11, 15, 4, 14, 1]);
    expect(coarse.classes).toBe(20);
    expect(coarse.images).toEqual(fine.images);
  });

  it("concatenates several batch files in order", () => {
    const a = join(tmp, "batch-a.bin");
    const b = join(tmp, "batch-b.bin");
    writeFileSync(a, cifarBytes("cifar10", labels10.slice(0, 2)));
    writeFileSync(b, cifarBytes("cifar10", labels10.slice(2), (i, y, x, c) => cifarPixel(i + 2, y, x, c)));
    const ds = loadCifar([a, b], { variant: "cifar10" });
    expect(ds.count).toBe(5);
    expect(Array.from(ds.labels)).toEqual([6, 9, 9, 4, 1]);
    checkPixels(ds);
  });
});

describe("corrupt and missing files", () => {
  const f = writeCorruptFiles(join(tmp, "corrupt"));
  const good = join(tmp, "idx-raw");
  writeIdxDataset(good);
  const goodImages = join(good, "train-images-idx3-ubyte");

  const cases: [string, () => unknown, string, RegExp[]][] = [
    ["a labels file given as images", () => loadIdxImages(f["wrong-magic-images"]!), f["wrong-magic-images"]!, [/expected magic 0x00000803 \(IDX uint8 images/, /found 0x00000801 \(IDX uint8 with 1 dimension: a labels file\?\)/]],
    ["an images file given as labels", () => loadIdxLabels(goodImages, 10), goodImages, [/expected magic 0x00000801 \(IDX uint8 labels/, /found 0x00000803/]],
    ["float32 IDX", () => loadIdxImages(f["float-images"]!), f["float-images"]!, [/found 0x00000d03 \(IDX float32 with 3 dimensions\)/]],
    ["neither IDX nor gzip", () => loadIdxImages(f["garbage.gz"]!), f["garbage.gz"]!, [/expected magic 0x00000803/, /found 0x74686973 \(neither IDX nor gzip data\)/]],
    ["3 bytes", () => loadIdxImages(f["tiny-header"]!), f["tiny-header"]!, [/file is 3 bytes, too short for the 4-byte IDX magic number/]],
    ["a cut header", () => loadIdxImages(f["short-header"]!), f["short-header"]!, [/file is 10 bytes, too short for the 16-byte IDX header of 3 dimensions/]],
    ["truncated pixels", () => loadIdxImages(f["truncated-images"]!), f["truncated-images"]!, [/file is 69 bytes but the header promises 5×4×3 = 60 bytes of pixels after its 16-byte header, 76 in all \(truncated\?\)/]],
    ["extra bytes", () => loadIdxImages(f["padded-images"]!), f["padded-images"]!, [/file is 81 bytes but the header promises 5×4×3 = 60 bytes .* \(5 extra bytes at the end\)/]],
    ["0-pixel images", () => loadIdxImages(f["zero-size-images"]!), f["zero-size-images"]!, [/images of 0×3 pixels/]],
    ["truncated gzip", () => loadIdxImages(f["truncated.gz"]!), f["truncated.gz"]!, [/gzip data is truncated/]],
    ["gzip with a bad CRC", () => loadIdxImages(f["bad-crc.gz"]!), f["bad-crc.gz"]!, [/gzip data is corrupt: the CRC-32 checksum/]],
    ["5 images, 4 labels", () => loadIdxDataset(goodImages, f["four-labels"]!), f["four-labels"]!, [/holds 4 labels but .*train-images-idx3-ubyte holds 5 images/]],
    ["a label out of range", () => loadIdxLabels(f["label-out-of-range"]!, 10), f["label-out-of-range"]!, [/label 12 at index 2 is out of range: expected 0\.\.9 \(10 classes\); 2 labels in all are out of range/]],
    ["a ragged CIFAR file", () => loadCifar(f["cifar10-ragged.bin"]!, { variant: "cifar10" }), f["cifar10-ragged.bin"]!, [/file is 6046 bytes, not a whole number of 3073-byte CIFAR-10 records \(1 label byte \+ 3072 pixel bytes\): 1 records and 2973 bytes left over \(truncated\?\)/]],
    ["CIFAR-100 read as CIFAR-10", () => loadCifar(f["cifar100-as-10.bin"]!, { variant: "cifar10" }), f["cifar100-as-10.bin"]!, [/its length is a multiple of 3074: is it a CIFAR-100 file\?/]],
    ["a CIFAR-10 label of 10", () => loadCifar(f["cifar10-label.bin"]!, { variant: "cifar10" }), f["cifar10-label.bin"]!, [/label 10 at record 1 \(byte 3073\) is out of range: expected 0\.\.9/]],
    ["a CIFAR-100 fine label of 100", () => loadCifar(f["cifar100-fine.bin"]!, { variant: "cifar100" }), f["cifar100-fine.bin"]!, [/fine label 100 at record 1 .* expected 0\.\.99 \(100 classes\)/]],
    ["a CIFAR-100 coarse label of 20", () => loadCifar(f["cifar100-coarse.bin"]!, { variant: "cifar100" }), f["cifar100-coarse.bin"]!, [/coarse label 20 at record 0 .* expected 0\.\.19 \(20 classes\)/]],
    ["an empty CIFAR file", () => loadCifar(f["empty.bin"]!, { variant: "cifar100" }), f["empty.bin"]!, [/file is empty; expected CIFAR-100 records of 3074 bytes/]],
  ];
  for (const [name, load, file, patterns] of cases) {
    it(`${name}: MN5003 naming the file and the problem`, () => {
      const e = dataError(load);
      expect(e.code).toBe(Codes.DataCorrupt);
      expect(e.code).toBe("MN5003");
      expect(e.file).toBe(file);
      expect(e.message.startsWith(`${file}: `)).toBe(true);
      for (const p of patterns) expect(e.message).toMatch(p);
    });
  }

  it("a missing file: MN5004 naming it", () => {
    const file = join(tmp, "nope", "train-images-idx3-ubyte.gz");
    const e = dataError(() => loadIdxImages(file));
    expect(e.code).toBe("MN5004");
    expect(e.file).toBe(file);
    expect(e.message).toBe(`${file}: file not found`);
    expect(dataError(() => loadCifar(join(tmp, "nope.bin"), { variant: "cifar10" })).code).toBe("MN5004");
  });

  it("a directory where a file should be: MN5001", () => {
    const e = dataError(() => loadIdxImages(tmp));
    expect(e.code).toBe(Codes.FileUnreadable);
    expect(e.message).toBe(`${tmp}: is a directory, expected a data file`);
  });
});

describe("locateDataset", () => {
  const explicit = join(tmp, "explicit");
  writeIdxDataset(explicit, { gzip: true });

  it("an explicit --data directory comes first, in raw, .gz and dotted spellings", () => {
    const located = locateDataset("fashion-mnist", explicit);
    expect(located.source).toBe("explicit");
    expect(located.description).toBe(`Fashion-MNIST from ${explicit} (--data)`);
    const train = loadSplit(located, "train");
    expect(train.count).toBe(IDX_COUNT);
    expect(Array.from(loadSplit(located, "test").labels)).toEqual(IDX_LABELS);

    const dotted = join(tmp, "dotted");
    writeIdxDataset(dotted, { dotted: true });
    const d = locateDataset("mnist", dotted);
    expect(d.files.train).toEqual({ format: "idx", images: join(dotted, "train-images.idx3-ubyte"), labels: join(dotted, "train-labels.idx1-ubyte") });
    expect(loadSplit(d, "train").count).toBe(IDX_COUNT);
  });

  it("an explicit directory is never passed over: MN5004 when it is missing or incomplete", () => {
    const none = join(tmp, "no-such-dir");
    const e = dataError(() => locateDataset("fashion-mnist", none));
    expect(e.code).toBe("MN5004");
    expect(e.file).toBe(none);
    expect(e.message).toMatch(/directory does not exist; expected the Fashion-MNIST IDX files train-images-idx3-ubyte\(\.gz\)/);

    const partial = join(tmp, "partial");
    writeIdxDataset(partial);
    rmSync(join(partial, "t10k-labels-idx1-ubyte"));
    const p = dataError(() => locateDataset("fashion-mnist", partial));
    expect(p.code).toBe("MN5004");
    expect(p.message).toMatch(/directory lacks t10k-labels-idx1-ubyte\(\.gz\); it holds the other Fashion-MNIST IDX files$/);

    // An empty directory: each expected file named once.
    const empty = join(tmp, "empty-data");
    mkdirSync(empty);
    const m = dataError(() => locateDataset("fashion-mnist", empty)).message;
    expect(m).toBe(`${empty}: directory holds none of the Fashion-MNIST IDX files train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz), t10k-labels-idx1-ubyte(.gz)`);
  });

  it("then the system directory, then the embedded subset, reporting what it passed over", () => {
    const system = locateDataset("fashion-mnist", undefined, { systemDir: explicit });
    expect(system.source).toBe("system");
    expect(system.description).toMatch(/\(Debian package dataset-fashion-mnist\)$/);

    const absent = join(tmp, "no-system");
    const embedded = locateDataset("fashion-mnist", undefined, { systemDir: absent });
    expect(embedded.source).toBe("embedded");
    expect(embedded.dir).toBe(EMBEDDED_FASHION_MNIST_DIR);
    expect(embedded.skipped).toEqual([`${absent}: directory does not exist`]);

    const e = dataError(() => locateDataset("fashion-mnist", undefined, { systemDir: absent, embeddedDir: null }));
    expect(e.code).toBe("MN5004");
    expect(e.message).toMatch(/no Fashion-MNIST data found .*install the Debian package dataset-fashion-mnist or pass --data DIR/);
  });

  it("by default picks the Debian package when it is installed, else the embedded subset", () => {
    const located = locateDataset("fashion-mnist");
    expect(located.source).toBe(existsSync(SYSTEM_FASHION_MNIST_DIR) ? "system" : "embedded");
    expect(labelNames(located)[9]).toBe("Ankle boot");
  });

  it("MNIST and CIFAR need --data; CIFAR accepts the archive's folder or its parent", () => {
    expect(dataError(() => locateDataset("mnist")).code).toBe("MN5004");
    expect(dataError(() => locateDataset("cifar10")).message).toMatch(/CIFAR-10 has no default location: pass --data DIR/);

    const root = join(tmp, "cifar-root");
    const dir = join(root, "cifar-10-batches-bin");
    mkdirSync(dir, { recursive: true });
    for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), cifarBytes("cifar10", [[0, b]]));
    const incomplete = dataError(() => locateDataset("cifar10", root));
    expect(incomplete.message).toMatch(/directory lacks test_batch\.bin/);
    writeFileSync(join(dir, "test_batch.bin"), cifarBytes("cifar10", [[0, 7], [0, 8]]));
    for (const given of [root, dir]) {
      const located = locateDataset("cifar10", given);
      expect(located.dir).toBe(dir);
      expect(Array.from(loadSplit(located, "train").labels)).toEqual([1, 2, 3, 4, 5]);
      expect(loadSplit(located, "test").count).toBe(2);
    }

    const c100 = join(tmp, "cifar-100-binary");
    mkdirSync(c100);
    writeFileSync(join(c100, "train.bin"), cifarBytes("cifar100", [[3, 42]]));
    writeFileSync(join(c100, "test.bin"), cifarBytes("cifar100", [[3, 42]]));
    const located = locateDataset("cifar100", tmp);
    expect(loadSplit(located, "train").labels[0]).toBe(42);
    expect(loadSplit(located, "train", { labels: "coarse" }).labels[0]).toBe(3);
    expect(labelNames(located, { labels: "coarse" })).toHaveLength(20);
  });
});

describe("real Fashion-MNIST", () => {
  const gzipHeader = (file: string) => Array.from(readFileSync(file).subarray(0, 10));

  it("the embedded subset loads: 6,000 + 1,000 images, the balance its README gives", () => {
    const located = locateDataset("fashion-mnist", EMBEDDED_FASHION_MNIST_DIR);
    const train = loadSplit(located, "train");
    const test = loadSplit(located, "test");
    expect([train.count, train.height, train.width, train.channels]).toEqual([6000, 28, 28, 1]);
    expect(test.count).toBe(1000);
    expect(classHistogram(train)).toEqual([560, 643, 608, 612, 584, 594, 590, 617, 590, 602]);
    expect(classHistogram(test)).toEqual([107, 105, 111, 93, 115, 87, 97, 95, 95, 95]);
    // Deterministic gzip: no FNAME flag, mtime 0, XFL 2 (level 9), OS 3.
    for (const split of ["train", "test"] as const) {
      const files = located.files[split];
      if (files.format !== "idx") throw new Error("expected IDX files");
      for (const file of [files.images, files.labels]) expect(gzipHeader(file)).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    }
  });

  it.runIf(existsSync(SYSTEM_FASHION_MNIST_DIR))("the Debian package: 60,000 + 10,000 images, 6,000 and 1,000 per class", () => {
    const located = locateDataset("fashion-mnist", undefined);
    expect(located.source).toBe("system");
    const train = loadSplit(located, "train");
    const test = loadSplit(located, "test");
    expect([train.count, test.count]).toEqual([60000, 10000]);
    expect(classHistogram(train)).toEqual(new Array(10).fill(6000));
    expect(classHistogram(test)).toEqual(new Array(10).fill(1000));
  });

  it.runIf(existsSync(SYSTEM_FASHION_MNIST_DIR))("the embedded subset is the first records of the Debian package, byte for byte", () => {
    const cut = cutSubset(SYSTEM_FASHION_MNIST_DIR);
    expect(cut.size).toBe(4);
    for (const [name, bytes] of cut) {
      const committed = readFileSync(join(EMBEDDED_FASHION_MNIST_DIR, name));
      expect(Buffer.compare(gunzipSync(bytes), gunzipSync(committed))).toBe(0);
      expect(Array.from(bytes.subarray(0, 10))).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    }
    const full = loadSplit(locateDataset("fashion-mnist", SYSTEM_FASHION_MNIST_DIR), "test");
    const sub = loadSplit(locateDataset("fashion-mnist", EMBEDDED_FASHION_MNIST_DIR), "test");
    expect(sub.count).toBe(SUBSET_COUNTS.test);
    expect(Buffer.compare(Buffer.from(sub.images), Buffer.from(take(full, 1000).images))).toBe(0);
    expect(Array.from(sub.labels)).toEqual(Array.from(full.labels.subarray(0, 1000)));
  });
});

describe("transforms are deterministic for a seed", () => {
  it("mulberry32 repeats for a seed, differs across seeds, stays in [0, 1)", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mulberry32(43)()).not.toBe(xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(Array.from(permutation(50, mulberry32(1))).sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("shuffle keeps each image with its label and repeats for a seed", () => {
    const ds = synthetic(100, 10);
    const s1 = shuffle(ds, 7);
    expect(shuffle(ds, 7)).toEqual(s1);
    expect(Array.from(shuffle(ds, 8).labels)).not.toEqual(Array.from(s1.labels));
    expect(Array.from(s1.labels)).not.toEqual(Array.from(ds.labels));
    for (let k = 0; k < s1.count; k++) expect(s1.labels[k]).toBe(s1.images[k * 16]! % 10);
    expect(classHistogram(s1)).toEqual(classHistogram(ds));
  });

  it("take", () => {
    const ds = synthetic(10, 3);
    const t = take(ds, 4);
    expect(t.count).toBe(4);
    expect(Array.from(t.labels)).toEqual([0, 1, 2, 0]);
    expect(t.images.length).toBe(4 * 16);
    expect(take(ds, 99).count).toBe(10);
  });

  it("splitValidation is stratified, disjoint, complete and repeatable", () => {
    const ds = synthetic(1000, 10);
    const { train, validation } = splitValidation(ds, 0.1, 3);
    expect([train.count, validation.count]).toEqual([900, 100]);
    expect(classHistogram(validation)).toEqual(new Array(10).fill(10));
    const ids = (d: Dataset) => Array.from({ length: d.count }, (_, k) => d.images[k * 16]! + 256 * d.labels[k]!);
    expect(new Set([...ids(train), ...ids(validation)]).size).toBe(1000);
    expect(splitValidation(ds, 0.1, 3).validation).toEqual(validation);
    expect(ids(splitValidation(ds, 0.1, 4).validation)).not.toEqual(ids(validation));
    // Uneven classes: the total is still round(fraction·count), spread by largest remainder.
    const uneven = synthetic(37, 4);
    const v = splitValidation(uneven, 0.25, 1).validation;
    expect(v.count).toBe(9);
    expect(classHistogram(v).reduce((a, b) => a + b)).toBe(9);
    classHistogram(v).forEach((n, c) => expect(Math.abs(n - classHistogram(uneven)[c]! * 0.25)).toBeLessThan(1));
  });

  it("filterClasses keeps the given classes and renumbers them 0..H−1 in the order given", () => {
    const ds = synthetic(100, 10);
    const hard = filterClasses(ds, [7, 2, 5]);
    expect(hard.classes).toBe(3);
    expect(hard.count).toBe(30);
    expect(classHistogram(hard)).toEqual([10, 10, 10]);
    for (let k = 0; k < hard.count; k++) expect([7, 2, 5][hard.labels[k]!]).toBe(hard.images[k * 16]! % 10);
    expect(() => filterClasses(ds, [1, 1])).toThrow(RangeError);
    expect(() => filterClasses(ds, [10])).toThrow(RangeError);
  });

  it("randomCropFlip matches a reference crop-and-mirror and repeats for a seed", () => {
    const ds = synthetic(20, 10, 6, 5, 3);
    const out = randomCropFlip(ds, 2, mulberry32(11));
    expect(randomCropFlip(ds, 2, mulberry32(11)).images).toEqual(out.images);
    expect(randomCropFlip(ds, 2, mulberry32(12)).images).not.toEqual(out.images);
    expect(out.labels).toBe(ds.labels);

    // Reference: zero-pad by 2, crop at (oy, ox) ∈ 0..4, then mirror; draws are oy, ox, flip per image.
    const rng = mulberry32(11);
    const { height: h, width: w, channels: ch } = ds;
    let flips = 0;
    let shifted = 0;
    for (let i = 0; i < ds.count; i++) {
      const oy = Math.floor(rng() * 5);
      const ox = Math.floor(rng() * 5);
      const flip = rng() < 0.5;
      flips += flip ? 1 : 0;
      shifted += oy !== 2 || ox !== 2 ? 1 : 0;
      const padded = (y: number, x: number, c: number) => {
        const sy = y - 2;
        const sx = x - 2;
        return sy < 0 || sy >= h || sx < 0 || sx >= w ? 0 : ds.images[((i * h + sy) * w + sx) * ch + c]!;
      };
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let c = 0; c < ch; c++) {
            const cx = flip ? w - 1 - x : x;
            expect(out.images[((i * h + y) * w + x) * ch + c]).toBe(padded(y + oy, cx + ox, c));
          }
    }
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(ds.count);
    expect(shifted).toBeGreaterThan(0);

    const floats = { ...ds, images: Float32Array.from(ds.images, (v) => v / 255) };
    const f = randomCropFlip(floats, 2, mulberry32(11));
    expect(f.images).toBeInstanceOf(Float32Array);
    expect(Array.from(f.images, (v) => Math.round(v * 255))).toEqual(Array.from(out.images));
    expect(randomCropFlip(ds, 0, mulberry32(5)).images.length).toBe(ds.images.length);
  });
});
