/**
 * The shipped files against their float32 references: the files of the export run chained as the
 * router runs them (each fed by the outputs of the files before it), once with the shipped files
 * and once with the references, on the same inputs. Per exit: top-1 agreement, the accuracy of
 * each on labelled images, and the largest difference of a probability. Agreement and the
 * accuracy change are gated on real images; on seeded random inputs they are reported.
 */
import type { Build } from "../../format/build.js";
import { computeExitOutputs } from "../eval/outputs.js";
import { exitComparison } from "../eval/precision.js";

export interface PrecisionGates {
  /** Top-1 agreement with the reference at least this fraction (real images). */
  minAgreement: number;
  /** Accuracy change against the reference at least this, in points (real images; negative: a drop). */
  minAccuracyChange: number;
}

export const DEFAULT_PRECISION_GATES: PrecisionGates = { minAgreement: 0.97, minAccuracyChange: -0.5 };

export interface PrecisionCheck {
  /** The shipped file that gives the exit, and its reference. */
  partition: string;
  reference: string;
  precision: string;
  exit: string;
  inputs: "random" | "real";
  samples: number;
  /** Top-1 agreement: on real images, over those of the exit's classes; on random inputs, over all. */
  agreement: number;
  /** On labelled images whose class the exit covers; null on random inputs. */
  accuracy: number | null;
  referenceAccuracy: number | null;
  /** shipped − reference, in points. */
  accuracyChange: number | null;
  maxProbDiff: number;
  /** Real-image checks of trained weights are gated; the others are reported. */
  gated: boolean;
  ok: boolean;
}

export interface PrecisionInputs {
  kind: "random" | "real";
  pixels: Uint8Array | Int8Array | Float32Array;
  labels: Int32Array | undefined;
  count: number;
}

/** Largest difference of one probability between two tables of the same exit. */
function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Every exit of a file that has a reference, shipped against reference, on these inputs; checked against `gates` unless null (reported only). */
export async function comparePrecision(build: Build, x: PrecisionInputs, gates: PrecisionGates | null): Promise<PrecisionCheck[]> {
  if (!build.manifest.export!.partitions.some((p) => p.reference)) return [];
  // Random inputs have no class: no image is of an exit's classes, so no accuracy is measured.
  const labels = x.labels ?? new Int32Array(x.count).fill(-1);
  // The files chained as the router runs them, once as they ship and once with the references in
  // their place; small batches, since feature maps of large images take memory.
  const run = (files: "shipped" | "reference") => computeExitOutputs(build, x.pixels, labels, x.count, { files, batch: 32 });
  const [shipped, reference] = [await run("shipped"), await run("reference")];
  return exitComparison(shipped, reference)
    .filter((c) => c.reference !== null)
    .map((c): PrecisionCheck => {
      const labelled = x.labels !== undefined && c.samples > 0;
      const accuracyChange = labelled ? (c.accuracy.shipped - c.accuracy.reference) * 100 : null;
      // On labelled images, agreement on the exit's own inputs (the hard-class images for an exit over the hard classes).
      const agreement = labelled ? (c.agreementOnClasses ?? c.agreement) : c.agreement;
      const ok = !gates || (agreement >= gates.minAgreement && (accuracyChange === null || accuracyChange >= gates.minAccuracyChange));
      return {
        partition: c.file,
        reference: c.reference!,
        precision: c.precision,
        exit: c.exit,
        inputs: x.kind,
        samples: x.count,
        agreement,
        accuracy: labelled ? c.accuracy.shipped : null,
        referenceAccuracy: labelled ? c.accuracy.reference : null,
        accuracyChange,
        maxProbDiff: maxDiff(shipped.exits.get(c.exit)!.probs, reference.exits.get(c.exit)!.probs),
        gated: gates !== null,
        ok,
      };
    });
}
