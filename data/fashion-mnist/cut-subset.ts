/**
 * Regenerates the embedded Fashion-MNIST subset in this folder from the full dataset:
 * the first 6,000 training and the first 1,000 test images and labels, as gzipped IDX files
 * under the standard names.
 *
 *   apt-get install dataset-fashion-mnist
 *   node --import tsx data/fashion-mnist/cut-subset.ts [--from DIR] [--to DIR]
 *
 * DIR defaults: --from /usr/share/datasets/fashion-mnist, --to this folder. The gzip streams carry
 * no file name and mtime 0, so the output depends only on the input and on zlib's version.
 */
import { createHash } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import {
  classHistogram,
  encodeIdx,
  imageSize,
  loadSplit,
  locateDataset,
  SYSTEM_FASHION_MNIST_DIR,
  take,
  type Dataset,
} from "../../src/runtime/train/data/index.js";

export const SUBSET_COUNTS = { train: 6000, test: 1000 } as const;

const NAMES = {
  train: { images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz" },
  test: { images: "t10k-images-idx3-ubyte.gz", labels: "t10k-labels-idx1-ubyte.gz" },
} as const;

/** gzip with the maximum level; node writes mtime 0, no file name and OS byte 3 (Unix). */
export function gzipDeterministic(bytes: Uint8Array): Uint8Array {
  return gzipSync(bytes, { level: 9 });
}

/** The subset's files (name → gzipped IDX bytes), cut from the full dataset in `fromDir`. */
export function cutSubset(fromDir: string): Map<string, Uint8Array> {
  const located = locateDataset("fashion-mnist", fromDir);
  const out = new Map<string, Uint8Array>();
  for (const split of ["train", "test"] as const) {
    const full = loadSplit(located, split);
    const n = SUBSET_COUNTS[split];
    if (full.count < n) throw new Error(`${fromDir} holds ${full.count} ${split} images, fewer than the ${n} to cut: is it the full dataset?`);
    const part: Dataset = take(full, n);
    const pixels = part.images.slice(0, n * imageSize(part));
    out.set(NAMES[split].images, gzipDeterministic(encodeIdx([n, part.height, part.width], pixels)));
    out.set(NAMES[split].labels, gzipDeterministic(encodeIdx([n], Uint8Array.from(part.labels))));
  }
  return out;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const from = arg("--from") ?? SYSTEM_FASHION_MNIST_DIR;
  const to = arg("--to") ?? dirname(fileURLToPath(import.meta.url));
  let total = 0;
  for (const [name, bytes] of cutSubset(from)) {
    const file = join(to, name);
    writeFileSync(`${file}.tmp`, bytes);
    renameSync(`${file}.tmp`, file);
    total += bytes.length;
    console.log(`${name}  ${bytes.length} bytes  sha256 ${createHash("sha256").update(bytes).digest("hex")}`);
  }
  console.log(`total ${total} bytes`);
  const located = locateDataset("fashion-mnist", to);
  for (const split of ["train", "test"] as const) {
    const ds = loadSplit(located, split);
    console.log(`${split}: ${ds.count} images, per class ${classHistogram(ds).join(" ")}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
