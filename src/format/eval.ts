/**
 * The typed format of `meanet eval`: eval.json in the build directory and the last line of
 * `meanet eval --json`. report.html is drawn from this object alone.
 */

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
  /** Accuracy per class of the routed system, by label. */
  perClass: { label: string; hard: boolean; samples: number; accuracy: number }[];
  /** Accuracy of each exit on every test input of its classes (as `meanet train` reports). */
  exitStandalone: { exit: string; classes: string; samples: number; accuracy: number }[];
  sweeps: Sweep[];
  calibration: Calibration[];
  assertions: AssertionOutcome[];
  /** The device constants the energy and latency figures use, with where they come from. */
  costModel: {
    edge: { preset: string | null; energyPerMacJ: number; throughputMacsPerS: number; energyPerBitJ: number; uplinkBps: number; rttS: number };
    cloud: { preset: string | null; energyPerMacJ: number; throughputMacsPerS: number };
    sources: string[];
  };
  seconds: number;
}
