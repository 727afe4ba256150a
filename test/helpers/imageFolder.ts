/**
 * Image folders written from in-memory data sets, for the tests of the image-folder loader and of
 * `meanet predict`: each image a PNG (grayscale for one channel, RGB for three) named by its
 * index, zero-padded, so that the loader's order (by file name) is the data set's.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PNG } from "pngjs";
import type { Dataset } from "../../src/runtime/train/data/dataset.js";
import { folderNameOf } from "../../src/runtime/train/data/folder.js";

/** PNG bytes of an H×W×C (C = 1 or 3) uint8 image. */
export function pngOf(pixels: Uint8Array, height: number, width: number, channels: number): Buffer {
  const png = new PNG({ width, height, colorType: channels === 1 ? 0 : 2 });
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) png.data[4 * i + c] = pixels[i * channels + (channels === 1 ? 0 : c)]!;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: channels === 1 ? 0 : 2 });
}

/** The PNG of image i of a data set. */
export function pngOfImage(ds: Dataset, i: number): Buffer {
  const size = ds.height * ds.width * ds.channels;
  return pngOf(ds.images.subarray(i * size, (i + 1) * size), ds.height, ds.width, ds.channels);
}

/** Writes `ds` under dir/<label folder>/<index>.png; returns the files in the data set's order. */
export function writeImageFolder(dir: string, ds: Dataset, labels: readonly string[]): string[] {
  const files: string[] = [];
  for (let i = 0; i < ds.count; i++) {
    const classDir = join(dir, folderNameOf(labels[ds.labels[i]!]!));
    mkdirSync(classDir, { recursive: true });
    const file = join(classDir, `${String(i).padStart(6, "0")}.png`);
    writeFileSync(file, pngOfImage(ds, i));
    files.push(file);
  }
  return files;
}
