/**
 * The exits of an export as the routing conditions read them, for the router and for `meanet eval`
 * alike: which file gives each exit, which class each output scores, which are hard, and one
 * sample's view of them (measures and argmax tests). Everything comes from manifest.json and
 * ir.json as export wrote them; nothing is planned again here.
 */
import { Codes, MeanetError } from "../diagnostics/index.js";
import { hardClassIds } from "./hardClasses.js";
import type { IrJson } from "./ir.js";
import { exportOf, type Manifest, type PartitionIo, type PartitionPlan } from "./manifest.js";
import { argmax, measureOf } from "./measures.js";
import type { ClassSet, Measure } from "./conditions.js";
import type { ExitView } from "./rules.js";

/** A partition as the manifest records it (export leaves out the node list). */
export type ExportedPartition = Omit<PartitionPlan, "nodes">;

/** One exit's output: the file that gives it, and per output index its class id and whether it is hard. */
export interface ExitInfo {
  name: string;
  file: ExportedPartition;
  output: PartitionIo;
  /** The classes the exit covers, as the spec says. */
  classes: ClassSet;
  /** Output index → class id among the spec's labels. */
  classIds: number[];
  /** Output index → is a hard class. */
  hard: boolean[];
  /** Number of outputs. */
  k: number;
}

/** An exit's output index → class id among the spec's labels. */
export function classIdsOf(labels: readonly string[], classes: ClassSet, hardIds: readonly number[]): number[] {
  const all = labels.map((_, i) => i);
  switch (classes.kind) {
    case "all":
      return all;
    case "hard":
      return [...hardIds];
    case "easy":
      return all.filter((c) => !hardIds.includes(c));
    case "labels":
      return classes.labels.map((l) => labels.indexOf(l));
  }
}


/** The exported files in the order export wrote them (the order a router runs them in). */
export function exportedPartitions(manifest: Pick<Manifest, "export">): ExportedPartition[] {
  return exportOf(manifest).partitions;
}

/** Every exit the exported files give, by name. */
export function exitInfos(manifest: Pick<Manifest, "labels" | "exits" | "export">): Map<string, ExitInfo> {
  const hard = hardClassIds(manifest);
  const hardSet = new Set(hard);
  const out = new Map<string, ExitInfo>();
  for (const file of exportedPartitions(manifest)) {
    for (const output of file.outputs) {
      if (!output.exit) continue;
      const exit = manifest.exits.find((x) => x.name === output.exit);
      if (!exit) throw new MeanetError(Codes.BuildInvalid, `${file.path} gives exit \`${output.exit}\`, which manifest.json does not list; run \`meanet export\` again`);
      const classes = exit.classes as ClassSet;
      const classIds = classIdsOf(manifest.labels, classes, hard);
      out.set(output.exit, { name: output.exit, file, output, classes, classIds, hard: classIds.map((c) => hardSet.has(c)), k: output.shape[0]! });
    }
  }
  return out;
}

/**
 * The IR nodes a file computes: everything its outputs depend on back to its inputs. This is the
 * node list export planned (files never share nodes), recovered from what the manifest records.
 */
export function partitionNodes(ir: Pick<IrJson, "tensors" | "nodes">, file: ExportedPartition): number[] {
  const inputs = new Set(file.inputs.map((io) => io.tensor));
  const need = new Set<number>();
  const stack = file.outputs.map((o) => o.tensor);
  while (stack.length) {
    const t = stack.pop()!;
    if (inputs.has(t)) continue;
    const p = ir.tensors[t]!.producer;
    if (p < 0 || need.has(p)) continue;
    need.add(p);
    stack.push(...ir.nodes[p]!.inputs);
  }
  return [...need].sort((a, b) => a - b);
}

/** MACs per input of each exported file, by path. */
export function partitionMacs(ir: Pick<IrJson, "tensors" | "nodes">, files: readonly ExportedPartition[]): Map<string, number> {
  return new Map(files.map((f) => [f.path, partitionNodes(ir, f).reduce((s, n) => s + ir.nodes[n]!.macs, 0)]));
}

/** Bytes of one input of a tensor crossing files. */
export function ioBytes(io: PartitionIo): number {
  return io.shape.reduce((a, b) => a * b, 1) * (io.dtype === "float32" ? 4 : io.dtype === "float16" ? 2 : 1);
}

/** The file that computes a tensor another file reads. */
export function producerOf<F extends ExportedPartition>(files: readonly F[], io: PartitionIo): F | undefined {
  return files.find((f) => f.outputs.some((o) => o.name === io.name && !o.exit));
}

/** Where one sample's exit probabilities are: the array and the sample's offset in it. */
export interface ExitProbs {
  info: ExitInfo;
  data: Float32Array;
  offset: number;
}

/**
 * One sample's view for the routing conditions. `probs(exit)` finds the exit's probabilities for
 * the sample, or throws `NeedExit` / `ExitUnavailable` (see rule.ts) when it has none; the
 * measures and class tests on top are the same for every caller. `defer()` gives the sample's
 * deferral score (it may throw the same way) when the build has a deferral model.
 */
export function exitView(probs: (exit: string) => ExitProbs, hardIds: ReadonlySet<number>, labels: readonly string[], defer?: () => number): ExitView {
  return {
    measure: (m: Measure, exit: string) => {
      if (m === "defer") {
        if (!defer) throw new MeanetError(Codes.BuildInvalid, "the routing rules read `defer(…)`, and this build has no deferral model; run `meanet export` again");
        return defer();
      }
      const { info, data, offset } = probs(exit);
      return measureOf(m, data, offset, info.k, info.hard);
    },
    argmaxIn: (exit: string, set: ClassSet) => {
      const { info, data, offset } = probs(exit);
      const c = info.classIds[argmax(data, offset, info.k)]!;
      switch (set.kind) {
        case "all":
          return true;
        case "hard":
          return hardIds.has(c);
        case "easy":
          return !hardIds.has(c);
        case "labels":
          return set.labels.includes(labels[c]!);
      }
    },
  };
}

/** The error for a rule that reads an exit no exported file gives. */
export function unknownExit(exit: string): MeanetError {
  return new MeanetError(Codes.BuildInvalid, `the routing rules read exit \`${exit}\`, which no exported file gives`);
}
