/**
 * The stage keys of `meanet build`. Each stage names its inputs, each input reduced to a sha256;
 * the stage's key is the sha256 over them. manifest.json records, per finished stage, the inputs
 * and the sha256 of every file the stage wrote. A stage is reused when its inputs hash as
 * recorded and each of its files is still on disk with the recorded sha256, listed so in the
 * manifest; anything else reruns it. Stages chain through the hashes of earlier stages' files,
 * so a stage whose inputs did not change is reused even when an earlier stage ran again and
 * wrote the same bytes.
 */
import { sha256 } from "../format/hash.js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { IrJson } from "../format/ir.js";
import type { BuildStage, Manifest, ManifestArtifact, StageRecord } from "../format/manifest.js";
import type { LocatedDataset, Split } from "../runtime/train/data/locate.js";

export const STAGES: readonly BuildStage[] = ["compile", "train", "export", "verify", "eval"];

export type StageInputs = Record<string, string>;

/** A file as manifest.json lists it: path, sha256 and size. */
export function artifactOf(path: string, data: string | Uint8Array): ManifestArtifact {
  return { path, sha256: sha256(data), bytes: typeof data === "string" ? Buffer.byteLength(data) : data.byteLength };
}

/** The sha256 of a value as JSON (strings as they are). */
export function hashOf(value: unknown): string {
  return sha256(typeof value === "string" ? value : JSON.stringify(value));
}

/** The key of a set of inputs: independent of the order they were named in. */
export function keyOf(inputs: StageInputs): string {
  return hashOf(Object.keys(inputs).sort().map((k) => [k, inputs[k]]));
}

export function stageRecord(inputs: StageInputs, outputs: Record<string, string>): StageRecord {
  return { key: keyOf(inputs), inputs, outputs };
}

/** What a reuse decision needs to know about the build directory. */
export interface BuildState {
  /** The sha256 of a file inside the build directory, or undefined when it is not there. */
  fileSha(path: string): string | undefined;
  /** The manifest's artifacts: path → sha256. */
  listed: ReadonlyMap<string, string>;
}

/**
 * Why a stage has to run, or undefined when its record still holds: the reason is printed, so it
 * names the inputs that changed or the file that is missing or different.
 */
export function whyRun(record: StageRecord | undefined, inputs: StageInputs, state: BuildState, force = false): string | undefined {
  if (force) return "--force";
  if (!record) return "no earlier run";
  if (record.key !== keyOf(inputs)) {
    const names = [...new Set([...Object.keys(inputs), ...Object.keys(record.inputs ?? {})])].sort();
    const changed = names.filter((n) => record.inputs?.[n] !== inputs[n]);
    return `changed: ${changed.length ? changed.join(", ") : "inputs"}`;
  }
  for (const [path, sha] of Object.entries(record.outputs ?? {})) {
    const onDisk = state.fileSha(path);
    if (onDisk === undefined) return `${path} is missing`;
    if (onDisk !== sha) return `${path} changed since it was written`;
    if (state.listed.get(path) !== sha) return `manifest.json does not list ${path} as written`;
  }
  return undefined;
}

/** The state of a build directory as it is on disk now. */
export function buildState(dir: string, manifest: Manifest | undefined): BuildState {
  return {
    fileSha(path) {
      const file = join(dir, path);
      return existsSync(file) ? sha256(readFileSync(file)) : undefined;
    },
    listed: new Map((manifest?.artifacts ?? []).map((a) => [a.path, a.sha256])),
  };
}

export { trainingView } from "../format/trainingView.js";

/** Each file of a split, with the class an image folder gives it (an image's folder is its label). */
function splitFiles(located: LocatedDataset, split: Split | "validation"): string[] {
  const f = located.files[split];
  if (!f) return [];
  if (f.format === "folder") return f.images.map((i) => `${i.label}:${sha256(readFileSync(i.file))}`);
  return (f.format === "idx" ? [f.images, f.labels] : f.records).map((p) => sha256(readFileSync(p)));
}

/**
 * A data set's identity: the sha256 of its files' contents (not their paths or times), so the
 * same data found elsewhere, e.g. on another CI runner, is the same input. Fashion-MNIST's files
 * are about 30 MB; hashing them takes a fraction of a second.
 */
export function dataIdentity(located: LocatedDataset): Record<Split, string> {
  const train = hashOf([located.kind, ...splitFiles(located, "train"), ...(located.files.validation ? ["validation", ...splitFiles(located, "validation")] : [])]);
  return { train, test: hashOf([located.kind, ...splitFiles(located, "test")]) };
}
