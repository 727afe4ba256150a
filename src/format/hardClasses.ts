/**
 * Which classes are hard, decided in one place. The spec either lists them (`complexity { hard:
 * [...] }`) or asks for the `count` classes an exit ranks lowest, which only training can tell;
 * training records its answer in train-report.json, compile keeps it in manifest.json, and export
 * records the list the exported files were made for (in the hard exits' output order), which is
 * what the router and `meanet eval` read.
 */
import { join } from "node:path";
import { Codes, MeanetError } from "../diagnostics/index.js";
import type { HardClassSelection, IrJson } from "./ir.js";
import { exportOf, type Manifest } from "./manifest.js";
import type { TrainRecord } from "./trainReport.js";

/** The hard classes the spec itself lists, or undefined when training ranks them. */
export function specHardClasses(selection: HardClassSelection): string[] | undefined {
  return selection.kind === "labels" ? selection.labels! : undefined;
}

/** A list of hard classes when it fits the spec's selection: as many as it asks for, each a label, none twice. */
export function fittingHardClasses(list: readonly string[] | null | undefined, ir: Pick<IrJson, "labels" | "hardClasses">): string[] | undefined {
  if (!list || list.length !== ir.hardClasses.count || new Set(list).size !== list.length || !list.every((l) => ir.labels.includes(l))) return undefined;
  return [...list];
}

/** The hard classes manifest.json lists after compile: the spec's, else those training found, else none yet. */
export function manifestHardClasses(selection: HardClassSelection, trained: readonly string[] | undefined): string[] | null {
  return specHardClasses(selection) ?? (trained ? [...trained] : null);
}

/** The label ids of the hard classes the exported files were made for, in the hard exits' output order. */
export function hardClassIds(manifest: Pick<Manifest, "labels" | "export">): number[] {
  return exportOf(manifest).hardClasses.map((l) => manifest.labels.indexOf(l));
}

/**
 * The hard classes trained weights were trained on, in the extension's output order: those
 * train-report.json records (manifest.json loses them when the spec is compiled again), else the
 * manifest's. Guessing would pair the extension's outputs with the wrong labels, so neither is an error.
 */
export function trainedHardClasses(build: { dir: string; ir: IrJson; manifest: Manifest }, record: TrainRecord | undefined): string[] {
  const { ir, manifest, dir } = build;
  const reported = record ? fittingHardClasses(record.hardClasses, ir) : undefined;
  const spec = specHardClasses(ir.hardClasses);
  if (spec) {
    if (reported && [...reported].sort().join("\u0000") !== [...spec].sort().join("\u0000")) {
      throw new MeanetError(Codes.WeightsMismatch, `the spec's hard classes (${spec.join(", ")}) differ from those the weights were trained on (${reported.join(", ")}, in ${record!.path}); run meanet train again`);
    }
    return reported ?? spec;
  }
  if (reported) return reported;
  const listed = fittingHardClasses(manifest.hardClasses.labels, ir);
  if (listed) return listed;
  const h = record?.hardClasses;
  const why = !record
    ? `${join(dir, "train-report.json")} is missing`
    : !h
      ? `${record.path} records no hard classes`
      : h.length !== ir.hardClasses.count
        ? `${record.path} lists ${h.length} hard classes where the spec selects ${ir.hardClasses.count}`
        : `${record.path} lists hard classes that are not the spec's labels, or one twice (${h.join(", ")})`;
  throw new MeanetError(
    Codes.BuildInvalid,
    `cannot tell which ${ir.hardClasses.count} hard classes the trained weights were trained on: ${why}, and ${join(dir, "manifest.json")} lists none; run meanet train again, or export with --random-weights`,
  );
}

/**
 * Hard classes for seeded initial weights, which were trained on nothing: the manifest's, else (a
 * ranked selection never trained) the first `count` labels, so that the files can be made and run.
 */
export function initialHardClasses(manifest: Pick<Manifest, "labels" | "hardClasses">): string[] {
  return manifest.hardClasses.labels ?? manifest.labels.slice(0, manifest.hardClasses.count);
}
