/**
 * What `meanet train` recorded next to the weights (train-report.json): the architecture
 * fingerprint of every block and the hard classes the extension was trained on. The weights
 * cannot be read correctly without them, so export and compile take them from here rather than
 * from manifest.json, which a recompile rewrites.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Codes, MeanetError } from "../diagnostics/index.js";
import { jsonProblem } from "./build.js";
import { sha256 } from "./hash.js";
import type { IrJson } from "./ir.js";
import { blockSignature } from "./signature.js";

export interface TrainRecord {
  path: string;
  sha256: string;
  /** Block → architecture fingerprint the block's weights were trained for. */
  blocks: Record<string, string>;
  /** Hard-class labels in the extension's output order, when the report holds a usable list. */
  hardClasses: string[] | undefined;
}

/** train-report.json of a build, or undefined when there is none; an unreadable report is MN5005. */
export function readTrainRecord(buildDir: string): TrainRecord | undefined {
  const path = join(buildDir, "train-report.json");
  if (!existsSync(path)) return undefined;
  const bytes = readFileSync(path);
  let report: { blocks?: unknown; hardClasses?: { labels?: unknown } };
  try {
    report = JSON.parse(bytes.toString("utf8")) as typeof report;
  } catch (e) {
    throw new MeanetError(Codes.BuildInvalid, `${path} is not valid JSON (${jsonProblem(e)}); run meanet train again`);
  }
  const blocks = report && typeof report.blocks === "object" && report.blocks !== null ? (report.blocks as Record<string, string>) : {};
  const labels = report?.hardClasses?.labels;
  const hardClasses = Array.isArray(labels) && labels.every((l) => typeof l === "string") ? (labels as string[]) : undefined;
  return { path, sha256: sha256(bytes), blocks, hardClasses };
}

/** Blocks whose architecture differs from the one their weights were trained for. */
export function changedBlocks(record: TrainRecord, ir: IrJson): string[] {
  return ir.blocks.map((b) => b.name).filter((name) => record.blocks[name] !== undefined && record.blocks[name] !== blockSignature(ir, name));
}
