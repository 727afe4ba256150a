/**
 * The CIFAR-10 and CIFAR-100 binary formats. A file is a run of fixed-size records with no header:
 * CIFAR-10 is 1 label byte + 3072 pixel bytes; CIFAR-100 is a coarse label byte, a fine label byte
 * + 3072 pixel bytes. The pixels of a record are three 32×32 planes, R then G then B, each row-major;
 * we convert them to NHWC so that every loader yields the same layout.
 */
import type { Dataset } from "./dataset.js";
import { corrupt } from "./errors.js";
import { readDataFile } from "./files.js";
import { checkLabels } from "./idx.js";

export type CifarVariant = "cifar10" | "cifar100";

export interface CifarOptions {
  variant: CifarVariant;
  /** CIFAR-100 only: the 100 fine labels (default) or the 20 coarse superclasses. */
  labels?: "fine" | "coarse";
}

export const CIFAR_SIDE = 32;
export const CIFAR_CHANNELS = 3;
const PLANE = CIFAR_SIDE * CIFAR_SIDE;
const PIXELS = PLANE * CIFAR_CHANNELS;

interface Layout {
  name: string;
  labelBytes: number;
  record: number;
  describe: string;
}

const LAYOUTS: Record<CifarVariant, Layout> = {
  cifar10: { name: "CIFAR-10", labelBytes: 1, record: 1 + PIXELS, describe: "1 label byte + 3072 pixel bytes" },
  cifar100: { name: "CIFAR-100", labelBytes: 2, record: 2 + PIXELS, describe: "coarse and fine label bytes + 3072 pixel bytes" },
};

export function cifarClasses(options: CifarOptions): number {
  if (options.variant === "cifar10") return 10;
  return options.labels === "coarse" ? 20 : 100;
}

/** Decodes one CIFAR binary file held in memory into an NHWC dataset [N, 32, 32, 3]. */
export function decodeCifar(bytes: Uint8Array, file: string, options: CifarOptions, gzipped = false): Dataset {
  const layout = LAYOUTS[options.variant];
  const what = gzipped ? "decompressed data is" : "file is";
  if (bytes.length === 0) throw corrupt(file, `${what} empty; expected ${layout.name} records of ${layout.record} bytes (${layout.describe})`);
  if (bytes.length % layout.record !== 0) {
    const other = options.variant === "cifar10" ? LAYOUTS.cifar100 : LAYOUTS.cifar10;
    const hint = bytes.length % other.record === 0 ? `; its length is a multiple of ${other.record}: is it a ${other.name} file?` : " (truncated?)";
    throw corrupt(
      file,
      `${what} ${bytes.length} bytes, not a whole number of ${layout.record}-byte ${layout.name} records (${layout.describe}): ` +
        `${Math.floor(bytes.length / layout.record)} records and ${bytes.length % layout.record} bytes left over${hint}`,
    );
  }
  const count = bytes.length / layout.record;
  const fine = new Uint8Array(count);
  const coarse = new Uint8Array(count);
  const images = new Uint8Array(count * PIXELS);
  for (let i = 0; i < count; i++) {
    const rec = i * layout.record;
    if (layout.labelBytes === 2) {
      coarse[i] = bytes[rec]!;
      fine[i] = bytes[rec + 1]!;
    } else {
      fine[i] = bytes[rec]!;
    }
    planesToNhwc(bytes, rec + layout.labelBytes, images, i * PIXELS);
  }
  const where = (i: number) => `record ${i} (byte ${i * layout.record})`;
  if (options.variant === "cifar100") {
    checkLabels(coarse, file, 20, "coarse label", where);
    checkLabels(fine, file, 100, "fine label", where);
  } else {
    checkLabels(fine, file, 10, "label", where);
  }
  const labels = Int32Array.from(options.variant === "cifar100" && options.labels === "coarse" ? coarse : fine);
  return { images, labels, count, height: CIFAR_SIDE, width: CIFAR_SIDE, channels: CIFAR_CHANNELS, classes: cifarClasses(options) };
}

/** One record's R, G, B planes → interleaved HWC pixels. */
function planesToNhwc(src: Uint8Array, from: number, dst: Uint8Array, to: number): void {
  for (let p = 0; p < PLANE; p++) {
    const o = to + p * CIFAR_CHANNELS;
    dst[o] = src[from + p]!;
    dst[o + 1] = src[from + PLANE + p]!;
    dst[o + 2] = src[from + 2 * PLANE + p]!;
  }
}

/** Loads one or more CIFAR binary files (e.g. data_batch_1.bin … data_batch_5.bin) as one dataset. */
export function loadCifar(files: string | readonly string[], options: CifarOptions): Dataset {
  if (files.length === 0) throw new RangeError("loadCifar: no files given");
  const parts = (typeof files === "string" ? [files] : files).map((file) => {
    const { bytes, gzipped } = readDataFile(file);
    return decodeCifar(bytes, file, options, gzipped);
  });
  if (parts.length === 1) return parts[0]!;
  const count = parts.reduce((n, p) => n + p.count, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * PIXELS);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count, height: CIFAR_SIDE, width: CIFAR_SIDE, channels: CIFAR_CHANNELS, classes: cifarClasses(options) };
}
