/**
 * A folder of images as a data set: one sub-folder per class (named by the spec's labels), PNG
 * and JPEG files in them. With `train/` and `test/` sub-folders (and optionally `val/` or
 * `validation/`) those are the splits; without them the class folders are split here, a seeded
 * fifth of each class for test. Locating a folder only lists it; images are decoded when a split
 * is loaded, one file at a time, straight into the spec's input size (images.ts).
 */
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { Dataset } from "./dataset.js";
import { corrupt, missing, unreadable } from "./errors.js";
import { checkImageChannels, hasImageExtension, readImageFile, toInputPixels } from "./images.js";
import { mulberry32, shuffleInPlace } from "./rng.js";

export interface FolderImage {
  file: string;
  label: number;
}

/** The images of one split, in load order: by file name (code-point order), then by class. */
export interface FolderSplit {
  format: "folder";
  images: FolderImage[];
  /** H×W×C of the spec's input. */
  shape: number[];
  classes: number;
}

export interface ImageFolder {
  train: FolderSplit;
  test: FolderSplit;
  validation?: FolderSplit;
  /** How the splits were found, e.g. "train/, val/ and test/" or "a seeded 20% of each class for test". */
  layout: string;
  /** Files passed over: not .png/.jpg/.jpeg, hidden, or not inside a class folder. */
  skippedFiles: number;
}

/** The fraction of each class's images the seeded split puts in test (round(0.2·n) per class). */
export const FOLDER_TEST_FRACTION = 0.2;
/** The seed of that split: fixed, so train, eval and run agree whatever the training seed. */
export const FOLDER_SPLIT_SEED = 0;

const SPLIT_DIRS = { train: ["train"], validation: ["val", "validation"], test: ["test"] } as const;

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function entries(dir: string) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw unreadable(dir, `cannot list this folder: ${(e as Error).message}`);
  }
}

/** The folder name a label is looked for under: the label with each character no file name may hold (/ \ : * ? " < > |) replaced by _. */
export function folderNameOf(label: string): string {
  return label.replace(/[/\\:*?"<>|]/g, "_");
}

/** Whether `dir` holds a sub-folder other than CIFAR's (the caller has ruled out IDX and CIFAR files). */
export function hasSubfolders(dir: string): boolean {
  if (!isDir(dir)) return false;
  return entries(dir).some((e) => !e.name.startsWith(".") && e.name !== "cifar-10-batches-bin" && e.name !== "cifar-100-binary" && isDir(join(dir, e.name)));
}

interface Scan {
  byClass: string[][];
  skipped: number;
}

/** The image files of each class folder of `dir`, matched to the labels; extra or missing classes and empty class folders are errors. */
function scanClasses(dir: string, labels: readonly string[]): Scan {
  const index = new Map<string, number>();
  labels.forEach((l, i) => {
    index.set(l, i);
    index.set(folderNameOf(l), i);
  });
  const byClass: string[][] = labels.map(() => []);
  const seen = new Set<number>();
  const extra: string[] = [];
  let skipped = 0;
  for (const e of entries(dir)) {
    if (e.name.startsWith(".") || !isDir(join(dir, e.name))) {
      skipped++;
      continue;
    }
    const c = index.get(e.name);
    if (c === undefined) {
      extra.push(e.name);
      continue;
    }
    seen.add(c);
    for (const f of entries(join(dir, e.name))) {
      const path = join(dir, e.name, f.name);
      if (f.name.startsWith(".") || !hasImageExtension(f.name) || isDir(path)) skipped++;
      else byClass[c]!.push(path);
    }
  }
  const absent = labels.filter((_, i) => !seen.has(i));
  if (absent.length || extra.length) {
    const parts = [
      absent.length ? `no folder for ${absent.length === 1 ? "label" : "labels"} ${absent.map((l) => JSON.stringify(l)).join(", ")}` : "",
      extra.length ? `${extra.length === 1 ? "folder" : "folders"} ${extra.map((l) => JSON.stringify(l)).join(", ")} ${extra.length === 1 ? "matches" : "match"} no label` : "",
    ].filter(Boolean);
    throw corrupt(dir, `the class folders differ from the spec's ${labels.length} labels: ${parts.join("; ")} (a label's folder is its name with / \\ : * ? " < > | written _)`);
  }
  byClass.forEach((files, c) => {
    if (!files.length) throw missing(join(dir, folderNameOf(labels[c]!)), `class folder of label ${JSON.stringify(labels[c])} holds no .png, .jpg or .jpeg file`);
  });
  return { byClass, skipped };
}

function ordered(byClass: string[][], shape: number[]): FolderSplit {
  const images = byClass.flatMap((files, label) => files.map((file) => ({ file, label, name: basename(file) })));
  images.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.label - b.label));
  return { format: "folder", images: images.map(({ file, label }) => ({ file, label })), shape, classes: byClass.length };
}

/** Lists an image folder's splits (nothing is decoded). */
export function scanImageFolder(dir: string, labels: readonly string[], shape: readonly number[]): ImageFolder {
  checkImageChannels(shape, dir);
  const s = [...shape];
  const find = (names: readonly string[]) => names.map((n) => join(dir, n)).find(isDir);
  const trainDir = find(SPLIT_DIRS.train);
  if (trainDir) {
    const testDir = find(SPLIT_DIRS.test);
    if (!testDir) throw missing(dir, "the folder has train/ but no test/; give both (val/ or validation/ is optional), or only class folders to have a seeded split made");
    const valDir = find(SPLIT_DIRS.validation);
    const train = scanClasses(trainDir, labels);
    const test = scanClasses(testDir, labels);
    const val = valDir ? scanClasses(valDir, labels) : undefined;
    const topSkipped = entries(dir).filter((e) => !isDir(join(dir, e.name))).length;
    return {
      train: ordered(train.byClass, s),
      test: ordered(test.byClass, s),
      ...(val ? { validation: ordered(val.byClass, s) } : {}),
      layout: `${basename(trainDir)}/, ${valDir ? `${basename(valDir)}/ and ` : ""}${basename(testDir)}/`,
      skippedFiles: train.skipped + test.skipped + (val?.skipped ?? 0) + topSkipped,
    };
  }
  const all = scanClasses(dir, labels);
  const rng = mulberry32(FOLDER_SPLIT_SEED);
  const train: string[][] = [];
  const test: string[][] = [];
  for (const files of all.byClass) {
    const sorted = [...files].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    shuffleInPlace(sorted, rng);
    const n = Math.round(FOLDER_TEST_FRACTION * sorted.length);
    test.push(sorted.slice(0, n));
    train.push(sorted.slice(n));
  }
  return { train: ordered(train, s), test: ordered(test, s), layout: `class folders, a seeded ${FOLDER_TEST_FRACTION * 100}% of each class for test`, skippedFiles: all.skipped };
}

/** Decodes a split's images (the first `limit` of them when given) into a data set, one file at a time. */
export function loadFolderSplit(split: FolderSplit, limit?: number): Dataset {
  const [height, width, channels] = split.shape as [number, number, number];
  const size = height * width * channels;
  const count = limit === undefined ? split.images.length : Math.max(0, Math.min(Math.floor(limit), split.images.length));
  const images = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const { file, label } = split.images[i]!;
    toInputPixels(readImageFile(file), split.shape, images.subarray(i * size, (i + 1) * size));
    labels[i] = label;
  }
  return { images, labels, count, height, width, channels, classes: split.classes };
}
