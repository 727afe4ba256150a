/**
 * IDX files, the format of MNIST and Fashion-MNIST: a 4-byte magic number (two zero bytes, a dtype
 * byte, a dimension count), one big-endian uint32 per dimension, then the elements in row-major
 * order. Images are magic 0x00000803 (uint8, count × rows × columns), labels 0x00000801 (uint8, count).
 */
import type { Dataset } from "./dataset.js";
import { corrupt } from "./errors.js";
import { readDataFile } from "./files.js";

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const DTYPES: Record<number, { name: string; size: number }> = {
  0x08: { name: "uint8", size: 1 },
  0x09: { name: "int8", size: 1 },
  0x0b: { name: "int16", size: 2 },
  0x0c: { name: "int32", size: 4 },
  0x0d: { name: "float32", size: 4 },
  0x0e: { name: "float64", size: 8 },
};

/** Images as stored in an IDX file: [count, height, width], one uint8 channel. */
export interface IdxImages {
  pixels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
}

/** What a magic number looks like, so a user who passed the wrong file learns which file it was. */
function describeMagic(magic: number, gzipped: boolean): string {
  if (magic >>> 16 === 0x1f8b) return "gzip data";
  if (magic >>> 16 === 0) {
    const dtype = DTYPES[(magic >>> 8) & 0xff];
    const dims = magic & 0xff;
    if (dtype) {
      const guess = magic === IDX_LABELS_MAGIC ? ": a labels file?" : magic === IDX_IMAGES_MAGIC ? ": an images file?" : "";
      return `IDX ${dtype.name} with ${dims} dimension${dims === 1 ? "" : "s"}${guess}`;
    }
  }
  return gzipped ? "not IDX data, after gunzip" : "neither IDX nor gzip data";
}

function wantedMagic(magic: number): string {
  return magic === IDX_IMAGES_MAGIC ? "IDX uint8 images: count × rows × columns" : "IDX uint8 labels: count";
}

/** Checks the magic number and the header; returns the dimensions and the offset of the data. */
function readHeader(bytes: Uint8Array, file: string, gzipped: boolean, magic: number): { dims: number[]; offset: number } {
  const what = gzipped ? "decompressed data is" : "file is";
  if (bytes.length < 4) {
    throw corrupt(file, `${what} ${bytes.length} bytes, too short for the 4-byte IDX magic number (expected ${hex32(magic)}, ${wantedMagic(magic)})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0);
  if (found !== magic) {
    throw corrupt(file, `expected magic ${hex32(magic)} (${wantedMagic(magic)}) but found ${hex32(found)} (${describeMagic(found, gzipped)})`);
  }
  const rank = magic & 0xff;
  const offset = 4 + 4 * rank;
  if (bytes.length < offset) {
    throw corrupt(file, `${what} ${bytes.length} bytes, too short for the ${offset}-byte IDX header of ${rank} dimension${rank === 1 ? "" : "s"}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));
  const promised = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - offset;
  if (actual !== promised) {
    const noun = magic === IDX_IMAGES_MAGIC ? "pixels" : "labels";
    const shape = dims.length > 1 ? `${dims.join("×")} = ${promised}` : `${promised}`;
    const why = actual < promised ? "truncated?" : `${actual - promised} extra bytes at the end`;
    throw corrupt(
      file,
      `${what} ${bytes.length} bytes but the header promises ${shape} bytes of ${noun} after its ${offset}-byte header, ` +
        `${offset + promised} in all (${why})`,
    );
  }
  return { dims, offset };
}

/** Decodes an IDX images file held in memory (already gunzipped). */
export function decodeIdxImages(bytes: Uint8Array, file: string, gzipped = false): IdxImages {
  const { dims, offset } = readHeader(bytes, file, gzipped, IDX_IMAGES_MAGIC);
  const [count, height, width] = dims as [number, number, number];
  if (height === 0 || width === 0) throw corrupt(file, `the header gives images of ${height}×${width} pixels; expected at least 1×1`);
  // A copy, so the pixels own their ArrayBuffer (a small file's Buffer may sit in node's shared pool).
  return { pixels: bytes.slice(offset), count, height, width };
}

/** Decodes an IDX labels file held in memory; every label must lie in 0..classes−1. */
export function decodeIdxLabels(bytes: Uint8Array, file: string, classes: number, gzipped = false): Int32Array {
  const { offset } = readHeader(bytes, file, gzipped, IDX_LABELS_MAGIC);
  const raw = bytes.subarray(offset);
  checkLabels(raw, file, classes, "label");
  return Int32Array.from(raw);
}

/** Throws naming the first label outside 0..classes−1 and how many there are. */
export function checkLabels(labels: ArrayLike<number>, file: string, classes: number, what: string, where = (i: number) => `index ${i}`): void {
  let first = -1;
  let bad = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= classes) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (first >= 0) {
    const more = bad > 1 ? `; ${bad} ${what}s in all are out of range` : "";
    throw corrupt(file, `${what} ${labels[first]} at ${where(first)} is out of range: expected 0..${classes - 1} (${classes} classes)${more}`);
  }
}

export function loadIdxImages(file: string): IdxImages {
  const { bytes, gzipped } = readDataFile(file);
  return decodeIdxImages(bytes, file, gzipped);
}

export function loadIdxLabels(file: string, classes: number): Int32Array {
  const { bytes, gzipped } = readDataFile(file);
  return decodeIdxLabels(bytes, file, classes, gzipped);
}

/** Loads an images file and its labels file as one single-channel NHWC dataset. */
export function loadIdxDataset(imagesFile: string, labelsFile: string, classes = 10): Dataset {
  const images = loadIdxImages(imagesFile);
  const labels = loadIdxLabels(labelsFile, classes);
  if (labels.length !== images.count) {
    throw corrupt(
      labelsFile,
      `holds ${labels.length} labels but ${imagesFile} holds ${images.count} images: expected one label per image (are these files from the same split?)`,
    );
  }
  return { images: images.pixels, labels, count: images.count, height: images.height, width: images.width, channels: 1, classes };
}

/** Encodes uint8 data as an IDX file (uncompressed): images for dims [n, h, w], labels for [n]. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const promised = dims.reduce((a, b) => a * b, 1);
  if (promised !== data.length) throw new RangeError(`encodeIdx: dims ${dims.join("×")} need ${promised} bytes, got ${data.length}`);
  const offset = 4 + 4 * dims.length;
  const out = new Uint8Array(offset + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x00000800 | dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, offset);
  return out;
}
