/**
 * The hard classes: named in the spec, or ranked by training (step 2 of the recipe): the classes on
 * which the ranking exit does worst on held-out validation data, once a stage has trained it.
 */
import { specHardClasses } from "../../format/hardClasses.js";
import type { IrJson } from "../../format/ir.js";
import type { BlockModel } from "./builder.js";
import { exitLabelMap, lowestAccuracy } from "./classes.js";
import type { Dataset } from "./data/dataset.js";
import { predictClasses } from "./forward.js";
import type { Progress } from "./progress.js";

/** The hard classes so far (null until ranked), and the per-class accuracy that ranked them. */
export interface HardClasses {
  hardClasses: number[] | null;
  perClassAccuracy: number[] | null;
}

/** The exit whose per-class validation accuracy picks the hard classes, when training ranks them. */
export function rankingExit(ir: IrJson): string | undefined {
  return ir.hardClasses.kind === "lowest_accuracy" ? ir.hardClasses.exit! : undefined;
}

/** The hard classes the spec names by label, or null when training ranks them. */
export function namedHardClasses(ir: IrJson): number[] | null {
  return specHardClasses(ir.hardClasses)?.map((l) => ir.labels.indexOf(l)) ?? null;
}

/** After a stage that trained the ranking exit's block: ranks the hard classes, unless they are known already. */
export function rankAfterStage(ir: IrJson, models: Map<string, BlockModel>, validation: Dataset, trained: ReadonlySet<string>, known: HardClasses, progress: Progress): void {
  const exit = rankingExit(ir);
  if (known.hardClasses || !exit || !trained.has(ir.exits.find((x) => x.name === exit)!.block)) return;
  const perClass = perClassAccuracy(ir, models, validation, exit);
  known.perClassAccuracy = perClass;
  known.hardClasses = lowestAccuracy(perClass, ir.hardClasses.count);
  progress.info(`hard classes (lowest validation accuracy of \`${exit}\`): ${known.hardClasses.map((c) => ir.labels[c]).join(", ")}`);
}

/** The hard classes at the end of training; when no stage trained the ranking exit (e.g. a cloud-only schedule), ranked with the model as it is. */
export function finalHardClasses(ir: IrJson, models: Map<string, BlockModel>, validation: Dataset, known: HardClasses): { hard: number[]; perClass: number[] | null } {
  if (known.hardClasses) return { hard: known.hardClasses, perClass: known.perClassAccuracy };
  const perClass = perClassAccuracy(ir, models, validation, rankingExit(ir) ?? ir.exits[0]!.name);
  return { hard: lowestAccuracy(perClass, ir.hardClasses.count), perClass };
}

/** An exit's accuracy on the samples of each dataset label (0 for a label with no samples). */
export function perClassAccuracy(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, exit: string): number[] {
  const e = ir.exits.find((x) => x.name === exit)!;
  const map = exitLabelMap(ir, e, []);
  const [pred] = predictClasses(ir, models, ds, [exit]);
  const hits = new Array<number>(ir.labels.length).fill(0);
  const counts = new Array<number>(ir.labels.length).fill(0);
  for (let i = 0; i < ds.count; i++) {
    const l = ds.labels[i]!;
    counts[l]!++;
    if (pred![i] === map[l]) hits[l]!++;
  }
  return hits.map((h, c) => (counts[c] ? h / counts[c]! : 0));
}
