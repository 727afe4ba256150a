/**
 * The typed format of `meanet eval`: eval.json in the build directory and the last line of
 * `meanet eval --json`. report.html is drawn from this object alone.
 */
import type { Precision } from "./ir.js";

/** Figures of one way of answering the test inputs (the routed system or a baseline), per input. */
export interface SystemFigures {
  accuracy: number;
  /** Fraction of the inputs answered at each exit, by exit name (the spec's exits, all present). */
  fractions: Record<string, number>;
  /** Accuracy on the inputs answered at each exit; null when the exit answered none. */
  exitAccuracy: Record<string, number | null>;
  /** Edge energy per input by the device model: edge MACs × energy per MAC + bits sent × energy per bit. */
  energyJ: number;
  /** Latency per input: edge MACs / edge throughput, plus for cloud inputs bits / uplink + RTT + cloud MACs / cloud throughput. */
  latencyS: number;
  /** Mean MACs per input run on the edge and on the cloud, and mean bytes sent. */
  edgeMacs: number;
  cloudMacs: number;
  bytesSent: number;
  /** The cloud's share: mean cloud energy per input (cloud MACs × the cloud's energy per MAC) and the mean of the latency spent on the link and in the cloud. */
  cloudEnergyJ: number;
  cloudLatencyS: number;
}

export interface BaselineFigures extends SystemFigures {
  /** How the baseline answers, in one sentence. */
  description: string;
}

/** One point of a threshold sweep. */
export interface SweepPoint {
  /** The swept threshold (absent for the oracle-style points that have none). */
  threshold: number | null;
  cloudFraction: number;
  accuracy: number;
  energyJ: number;
  latencyS: number;
}

/** Percentage of the edge–cloud gap recovered along one system's sweep (see `GapRecovery`). */
export interface GapCurve {
  system: "routed" | "entropyExit" | "random";
  /** The swept condition, or how the system routes. */
  condition: string;
  /** By cloud fraction; PGR = (accuracy − edge-only) / (cloud-only − edge-only). */
  points: { cloudFraction: number; accuracy: number; pgr: number }[];
  /** Mean PGR over cloud fractions 0–100% (linear between points, level beyond the ends). */
  apgr: number;
  /** Mean PGR over the low-offload range, cloud fractions 0–10%. */
  apgrLow: number;
  /** CPT(x): the smallest cloud fraction at which the curve reaches PGR x (interpolated), by x in percent; null when it never does. */
  cpt: { "50": number | null; "80": number | null; "100": number | null };
  /** Accuracy at cloud fractions 5% and 10% (interpolated along the curve), by fraction in percent. Absent in reports that predate it. */
  accuracyAt?: { "5": number; "10": number };
}

/**
 * How much of the accuracy gap between the edge alone and the cloud alone each system recovers
 * (PGR, as RouteLLM reports routers). Random routing sends each input to the cloud with
 * probability f: its PGR is f, its APGR 0.5.
 */
export interface GapRecovery {
  /** Accuracy of the edge-only and cloud-only baselines: PGR 0 and 1. */
  edgeOnly: number;
  cloudOnly: number;
  /** PGR at each system's operating point (the routed system and the baselines), with its cloud fraction. */
  systems: Record<string, { cloudFraction: number; pgr: number }>;
  curves: GapCurve[];
}

export interface Sweep {
  /** Which system: "routed" (the spec's rule with one threshold swept) or "entropyExit". */
  system: "routed" | "entropyExit";
  /** The swept condition as written, e.g. `entropy(main) > t`. */
  condition: string;
  points: SweepPoint[];
}

/** What `calibrate(…)` chose on the validation split, and what that gives on the test split. */
export interface Calibration {
  /** The threshold's place in routingThresholds order, and the condition it belongs to. */
  index: number;
  condition: string;
  target: { metric: "cloud_fraction" | "accuracy" | "energy" | "latency"; value: number };
  threshold: number;
  validation: { samples: number; value: number };
  test: { value: number };
  /** False when no threshold reached the target on the validation split; the closest was taken. */
  met: boolean;
}

export interface AssertionOutcome {
  text: string;
  /** `file:line:col` of the assertion in the spec, when known. */
  loc: string | null;
  metric: string;
  op: string;
  bound: number;
  /** The measured value; null when this evaluation cannot measure the metric. */
  value: number | null;
  status: "passed" | "failed" | "unmeasured";
}

/** A routed system's accuracy and where it answers, as the comparison of shipped and reference files reports it. */
export interface PrecisionRouted {
  accuracy: number;
  /** Fraction of the inputs answered at each exit, by exit name. */
  fractions: Record<string, number>;
  /** Fraction answered by the cloud exits. */
  cloudFraction: number;
}

/** One exit, shipped against its float32 reference, on the same test images. */
export interface PrecisionExit {
  exit: string;
  /** The shipped file that gives the exit and the precision it ships at. */
  file: string;
  precision: Precision;
  /** Its float32 reference; null when the shipped file is itself the float form (the reference system runs it as it ships). */
  reference: string | null;
  /** Test images of the exit's classes, on which both accuracies are measured (as `exitStandalone`). */
  samples: number;
  accuracy: { shipped: number; reference: number };
  /** Fraction of all test images on which the shipped and the reference exit give the same top-1 output. */
  agreement: number;
  /**
   * The same on the test images of the exit's classes (`samples`), the inputs it is trained for:
   * for an exit over the hard classes, the hard-class images. Absent in reports that predate it.
   */
  agreementOnClasses?: number;
}

/**
 * The shipped files against their float32 references, present when any partition ships with a
 * reference (int8 and fp16 files, and files that read a tensor an int8 or fp16 file sends as
 * uint8 or float16). The "reference system" runs every reference in place of its shipped file
 * (the others as they ship) on the same test images. Routing uses the thresholds of `rule`:
 * those calibrated on the validation outputs of the shipped files, never of the references. No
 * energy is given for the reference system: the cost model prices the precision the files ship
 * at.
 */
export interface PrecisionComparison {
  /** The files that have a reference, in plan order: what the reference system replaces. */
  files: { path: string; device: "edge" | "cloud"; precision: Precision; reference: string }[];
  exits: PrecisionExit[];
  routed: {
    /** The routed system on the shipped files: the figures of `routed`. */
    shipped: PrecisionRouted;
    /** The same rule with the same thresholds on the reference files. */
    reference: PrecisionRouted;
    /** Fraction of the test images the two send to the same exit. */
    sameExit: number;
    /** Fraction of the test images on which the two answer the same class. */
    agreement: number;
    /**
     * The reference files with one threshold (`condition`: the first that sends inputs to the cloud,
     * the one the routed sweep moves) set so that they send as many test images to the cloud as the
     * shipped system, as near as the images allow; null when no threshold sends inputs to the cloud.
     */
    referenceAtCloudFraction: (PrecisionRouted & { condition: string; threshold: number }) | null;
  };
}

export interface EvalReport {
  format: "meanet-eval";
  version: 1;
  model: string;
  buildId: string;
  data: { source: string; split: "test"; samples: number };
  labels: string[];
  hardClasses: string[];
  /** The routing rule as written, with the thresholds used. */
  rule: string[];
  routed: SystemFigures;
  baselines: {
    edgeOnly: BaselineFigures;
    edgeWithExtension: BaselineFigures;
    cloudOnly: BaselineFigures;
    entropyExit: BaselineFigures;
    oracle: BaselineFigures;
  };
  /** (routed − edgeOnly) / (oracle − edgeOnly) in accuracy; null when the oracle gains nothing. */
  oracleGainRecovered: number | null;
  /** PGR, APGR and CPT of the routed system and the baselines; null when the cloud alone is no more accurate than the edge alone. Absent in reports that predate it. */
  gapRecovery?: GapRecovery | null;
  /** Accuracy per class of the routed system, by label. */
  perClass: { label: string; hard: boolean; samples: number; accuracy: number }[];
  /**
   * Accuracy of each exit on every test input of its classes (as `meanet train` reports), with the
   * exported file that gives the exit and the precision that file ships at.
   */
  exitStandalone: { exit: string; classes: string; samples: number; accuracy: number; file: string; precision: Precision }[];
  sweeps: Sweep[];
  calibration: Calibration[];
  assertions: AssertionOutcome[];
  /** The shipped files against their float32 references; absent when every file ships as its own float form. */
  precision?: PrecisionComparison;
  /**
   * The device constants the energy and latency figures use, with where they come from. A device's
   * `precision` (ir.json's) is the one its energy per MAC is of; `files` says the precision each
   * exported file ships at, which export makes its device's.
   */
  costModel: {
    edge: { preset: string | null; precision: Precision; energyPerMacJ: number; throughputMacsPerS: number; energyPerBitJ: number; uplinkBps: number; rttS: number };
    cloud: { preset: string | null; precision: Precision; energyPerMacJ: number; throughputMacsPerS: number };
    /** Every exported partition file in plan order, at the precision it ships at (fp32 for an export that predates per-device precision). */
    files: {
      path: string;
      device: "edge" | "cloud";
      precision: Precision;
      /** The file's weight bytes as the compiler counts them and as the file holds them (absent for an export that predates them). */
      weightBytes?: { compiled: number; shipped: number };
    }[];
    sources: string[];
  };
  seconds: number;
}

/**
 * In words, the precision a device's energy per MAC is of and the precision its files ship at, to
 * follow "the edge energy per MAC is …": e.g. "that of int8 MACs, the precision the edge's files
 * ship at (edge/main.onnx, edge/extension.onnx)". A file shipped at another precision (an export
 * that predates per-device precision) is named, since its MACs are then priced at the device's.
 */
export function macPrecisionText(costModel: EvalReport["costModel"], device: "edge" | "cloud"): string {
  const precision = costModel[device].precision;
  const files = costModel.files.filter((f) => f.device === device);
  if (!files.length) return `that of ${precision} MACs (the ${device} runs no exported file)`;
  const other = files.filter((f) => f.precision !== precision);
  if (!other.length) return `that of ${precision} MACs, the precision the ${device}'s files ship at (${files.map((f) => f.path).join(", ")})`;
  return `that of ${precision} MACs, the ${device}'s precision; but ${other.map((f) => `${f.path} ships at ${f.precision}`).join(", ")}, so ${other.length === 1 ? "its" : "their"} MACs are priced at ${precision} all the same`;
}

/** The precisions the files that have a reference ship at, e.g. "int8" or "int8, fp16". */
export function shippedPrecisions(p: PrecisionComparison): string {
  return [...new Set(p.files.map((f) => f.precision))].join(", ");
}
