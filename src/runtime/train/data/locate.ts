/**
 * Where the data comes from. Fashion-MNIST is looked for, in order, in an explicit `--data DIR`,
 * in /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist), then in the subset
 * embedded in this package (data/fashion-mnist). MNIST and CIFAR need an explicit directory, and
 * so does an image folder (one sub-folder per class: folder.ts), which `--data DIR` is taken as
 * when DIR holds sub-folders and no IDX or CIFAR files.
 * The answer says which source was picked and why the earlier ones were passed over.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Codes } from "../../../diagnostics/index.js";
import { cifarClasses, loadCifar, type CifarOptions } from "./cifar.js";
import { take, type Dataset } from "./dataset.js";
import { dataError, missing } from "./errors.js";
import { hasSubfolders, loadFolderSplit, scanImageFolder, type FolderSplit } from "./folder.js";
import { loadIdxDataset } from "./idx.js";

/** Two levels above src/ or dist/, which sit two levels above this folder (runtime/train/data). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
export const EMBEDDED_FASHION_MNIST_DIR = join(PACKAGE_ROOT, "data", "fashion-mnist");
export const SYSTEM_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

export type DatasetKind = "fashion-mnist" | "mnist" | "cifar10" | "cifar100" | "folder";
export type DataSource = "explicit" | "system" | "embedded";
export type Split = "train" | "test";

export type SplitFiles = { format: "idx"; images: string; labels: string } | { format: "cifar"; records: string[] } | FolderSplit;

export interface LocatedDataset {
  kind: DatasetKind;
  source: DataSource;
  dir: string;
  files: Record<Split, SplitFiles> & { validation?: SplitFiles };
  /** The class names, when the data set takes them from the spec (an image folder). */
  labels?: string[];
  /** One line for the user, e.g. "Fashion-MNIST from /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)". */
  description: string;
  /** Candidates passed over before this one, with the reason. */
  skipped: string[];
}

export interface LocateOptions {
  /** Overrides /usr/share/datasets/fashion-mnist; null skips it. */
  systemDir?: string | null;
  /** Overrides the embedded subset's directory; null skips it. */
  embeddedDir?: string | null;
  /** The spec's input and labels: an image folder's classes and pixel size come from them. */
  spec?: SpecData;
}

/** What of a spec decides its data: the input's shape and the class labels. */
export interface SpecData {
  input: { shape: number[] };
  labels: string[];
}

const TITLES: Record<DatasetKind, string> = { "fashion-mnist": "Fashion-MNIST", mnist: "MNIST", cifar10: "CIFAR-10", cifar100: "CIFAR-100", folder: "image folder" };

const IDX_NAMES = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
} as const;

const CIFAR_LAYOUT = {
  cifar10: { subdir: "cifar-10-batches-bin", train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), test: ["test_batch.bin"] },
  cifar100: { subdir: "cifar-100-binary", train: ["train.bin"], test: ["test.bin"] },
} as const;

export const FASHION_MNIST_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"] as const;
export const MNIST_LABELS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] as const;
export const CIFAR10_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"] as const;

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The first existing spelling of an IDX file: the standard name, with a dot for the last dash (as some mirrors write it), each raw or .gz. */
function findIdx(dir: string, name: string): string | undefined {
  const dotted = name.replace(/-(idx\d-ubyte)$/, ".$1");
  for (const n of [name, `${name}.gz`, dotted, `${dotted}.gz`]) if (existsSync(join(dir, n))) return join(dir, n);
  return undefined;
}

/** The IDX files of a directory, or the names that are missing from it. */
function idxFiles(dir: string): { files: Record<Split, SplitFiles> } | { missing: string[] } {
  if (!isDir(dir)) return { missing: [] };
  const out: Partial<Record<Split, SplitFiles>> = {};
  const absent: string[] = [];
  for (const split of ["train", "test"] as const) {
    const images = findIdx(dir, IDX_NAMES[split].images);
    const labels = findIdx(dir, IDX_NAMES[split].labels);
    if (!images) absent.push(`${IDX_NAMES[split].images}(.gz)`);
    if (!labels) absent.push(`${IDX_NAMES[split].labels}(.gz)`);
    if (images && labels) out[split] = { format: "idx", images, labels };
  }
  return absent.length ? { missing: absent } : { files: out as Record<Split, SplitFiles> };
}

function cifarFiles(kind: "cifar10" | "cifar100", given: string): { dir: string; files: Record<Split, SplitFiles> } | { missing: string[] } {
  const layout = CIFAR_LAYOUT[kind];
  // Accept the folder the archive unpacks to, or the folder that holds it.
  const dir = isDir(join(given, layout.subdir)) ? join(given, layout.subdir) : given;
  if (!isDir(dir)) return { missing: [] };
  const absent = [...layout.train, ...layout.test].filter((n) => !existsSync(join(dir, n)));
  if (absent.length) return { missing: absent };
  const records = (names: readonly string[]) => names.map((n) => join(dir, n));
  return { dir, files: { train: { format: "cifar", records: records(layout.train) }, test: { format: "cifar", records: records(layout.test) } } };
}

function whyMissing(dir: string, absent: string[]): string {
  if (!isDir(dir)) return existsSync(dir) ? "is not a directory" : "directory does not exist";
  return `directory lacks ${absent.join(", ")}`;
}

/** Why an explicit --data directory will not do, naming each expected file once. */
function whyRejected(dir: string, absent: string[], files: string, all: string[]): string {
  if (!isDir(dir)) return `${whyMissing(dir, absent)}; expected the ${files} ${all.join(", ")}`;
  if (absent.length === all.length) return `directory holds none of the ${files} ${all.join(", ")}`;
  return `directory lacks ${absent.join(", ")}; it holds the other ${files}`;
}

/**
 * Finds a dataset on disk. An explicit directory is used or rejected, never silently passed over;
 * for Fashion-MNIST without one, the system copy wins over the embedded subset.
 */
export function locateDataset(kind: DatasetKind, dir?: string, options: LocateOptions = {}): LocatedDataset {
  const title = TITLES[kind];
  if (kind === "folder") return locateFolder(dir, options.spec);
  if (kind === "cifar10" || kind === "cifar100") {
    const layout = CIFAR_LAYOUT[kind];
    if (dir === undefined) {
      throw missing("--data", `${title} has no default location: pass --data DIR, where DIR holds ${layout.subdir}/ or its files (${[...layout.train, ...layout.test].join(", ")})`);
    }
    const found = cifarFiles(kind, dir);
    if ("missing" in found) throw missing(dir, whyRejected(dir, found.missing, `${title} binary files`, [...layout.train, ...layout.test]));
    return { kind, source: "explicit", dir: found.dir, files: found.files, description: `${title} from ${found.dir} (--data)`, skipped: [] };
  }

  if (dir !== undefined) {
    const found = idxFiles(dir);
    if ("missing" in found) throw missing(dir, whyRejected(dir, found.missing, `${title} IDX files`, allIdxNames()));
    return { kind, source: "explicit", dir, files: found.files, description: `${title} from ${dir} (--data)`, skipped: [] };
  }
  if (kind === "mnist") throw missing("--data", `MNIST has no default location: pass --data DIR, where DIR holds ${allIdxNames().join(", ")}`);

  const candidates: { source: DataSource; dir: string | null; note: string }[] = [
    { source: "system", dir: options.systemDir === undefined ? SYSTEM_FASHION_MNIST_DIR : options.systemDir, note: "Debian package dataset-fashion-mnist" },
    { source: "embedded", dir: options.embeddedDir === undefined ? EMBEDDED_FASHION_MNIST_DIR : options.embeddedDir, note: "embedded subset: 6,000 train / 1,000 test images" },
  ];
  const skipped: string[] = [];
  for (const c of candidates) {
    if (c.dir === null) continue;
    const found = idxFiles(c.dir);
    if ("files" in found) return { kind, source: c.source, dir: c.dir, files: found.files, description: `${title} from ${c.dir} (${c.note})`, skipped };
    skipped.push(`${c.dir}: ${whyMissing(c.dir, found.missing)}`);
  }
  throw missing(
    candidates.find((c) => c.dir !== null)?.dir ?? "--data",
    `no ${title} data found (${skipped.join("; ") || "no place to look"}); install the Debian package dataset-fashion-mnist or pass --data DIR`,
  );
}

function locateFolder(dir: string | undefined, spec: SpecData | undefined): LocatedDataset {
  if (dir === undefined) throw missing("--data", "an image folder has no default location: pass --data DIR, where DIR holds one folder per class (or train/ and test/ folders of them)");
  if (!isDir(dir)) throw missing(dir, existsSync(dir) ? "is not a directory" : "directory does not exist");
  if (!spec) throw new Error("locateDataset: an image folder needs the spec's input and labels");
  const f = scanImageFolder(dir, spec.labels, spec.input.shape);
  const counts = `${f.train.images.length} train${f.validation ? ` / ${f.validation.images.length} validation` : ""} / ${f.test.images.length} test images`;
  const skipped = f.skippedFiles ? `; ${f.skippedFiles} ${f.skippedFiles === 1 ? "file" : "files"} skipped that ${f.skippedFiles === 1 ? "is" : "are"} not a .png/.jpg/.jpeg in a class folder` : "";
  return {
    kind: "folder",
    source: "explicit",
    dir,
    files: { train: f.train, test: f.test, ...(f.validation ? { validation: f.validation } : {}) },
    labels: [...spec.labels],
    description: `image folder ${dir} (--data; ${f.layout}: ${counts}${skipped})`,
    skipped: [],
  };
}

/** An explicit directory that is an image folder: sub-folders, and none of the IDX or CIFAR files. */
export function isImageFolder(dir: string): boolean {
  if (!isDir(dir)) return false;
  const names = [...Object.values(IDX_NAMES).flatMap((n) => [n.images, n.labels])];
  if (names.some((n) => findIdx(dir, n))) return false;
  if ([...CIFAR_LAYOUT.cifar10.train, ...CIFAR_LAYOUT.cifar10.test, ...CIFAR_LAYOUT.cifar100.train, ...CIFAR_LAYOUT.cifar100.test].some((n) => existsSync(join(dir, n)))) return false;
  return hasSubfolders(dir);
}

function allIdxNames(): string[] {
  return [IDX_NAMES.train.images, IDX_NAMES.train.labels, IDX_NAMES.test.images, IDX_NAMES.test.labels].map((n) => `${n}(.gz)`);
}

/**
 * Loads one split of a located dataset (`validation` only when the data set has its own). For
 * CIFAR-100, `labels` picks fine (default) or coarse labels; `limit` keeps the first images (an
 * image folder decodes only those).
 */
export function loadSplit(located: LocatedDataset, split: Split | "validation", options: { labels?: "fine" | "coarse"; limit?: number } = {}): Dataset {
  const files = located.files[split];
  if (!files) throw missing(located.dir, `the data set has no ${split} split`);
  if (files.format === "folder") return loadFolderSplit(files, options.limit);
  const all = loadWhole(located, files, options);
  return options.limit === undefined ? all : take(all, options.limit);
}

function loadWhole(located: LocatedDataset, files: Exclude<SplitFiles, FolderSplit>, options: { labels?: "fine" | "coarse" }): Dataset {
  if (files.format === "idx") return loadIdxDataset(files.images, files.labels, 10);
  const cifar: CifarOptions = { variant: located.kind === "cifar100" ? "cifar100" : "cifar10", labels: options.labels };
  return loadCifar(files.records, cifar);
}

/** The class names of a located dataset; CIFAR-100's come from its *_label_names.txt when present. */
export function labelNames(located: LocatedDataset, options: { labels?: "fine" | "coarse" } = {}): string[] {
  switch (located.kind) {
    case "folder":
      return [...(located.labels ?? [])];
    case "fashion-mnist":
      return [...FASHION_MNIST_LABELS];
    case "mnist":
      return [...MNIST_LABELS];
    case "cifar10":
      return [...CIFAR10_LABELS];
    case "cifar100": {
      const which = options.labels ?? "fine";
      const n = cifarClasses({ variant: "cifar100", labels: which });
      const file = join(located.dir, `${which}_label_names.txt`);
      const names = existsSync(file) ? readFileSync(file, "utf8").split(/\r?\n/).map((s) => s.trim()).filter(Boolean) : [];
      return names.length === n ? names : Array.from({ length: n }, (_, i) => `class_${i}`);
    }
  }
}


/** The data set a spec's input fits, unless the user names one; an explicit directory that is an image folder is one. */
export function datasetFor(ir: SpecData, requested: DatasetKind | undefined, dataDir?: string): DatasetKind {
  if (requested) return requested;
  if (dataDir !== undefined && isImageFolder(dataDir)) return "folder";
  const [h, w, c] = ir.input.shape;
  if (h === 28 && w === 28 && c === 1 && ir.labels.length === 10) return "fashion-mnist";
  if (h === 32 && w === 32 && c === 3 && ir.labels.length === 10) return "cifar10";
  if (h === 32 && w === 32 && c === 3 && ir.labels.length === 100) return "cifar100";
  throw dataError(Codes.DataMissing, "--dataset", `no known data set fits input ${ir.input.shape.join("×")} with ${ir.labels.length} classes; pass --dataset and --data`);
}

/** Finds the data set of a spec: the one named, an image folder given as `--data`, or the one its input fits (datasetFor). */
export function locateFor(spec: SpecData, dataDir: string | undefined, requested?: DatasetKind, options: LocateOptions = {}): LocatedDataset {
  return locateDataset(datasetFor(spec, requested, dataDir), dataDir, { ...options, spec: { input: spec.input, labels: spec.labels } });
}
