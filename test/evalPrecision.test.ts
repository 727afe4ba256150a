/**
 * The comparison of shipped files with their float32 references (src/runtime/eval/precision.ts) on
 * small synthetic exit tables: an int8 edge exit `main` whose reference answers differently on two
 * inputs, and a float32 cloud exit shipped without a reference. The figures are worked out by hand
 * below; the same comparison on real exported files is test/evalPrecision.e2e.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { Manifest } from "../src/format/manifest.js";
import type { IrJsonDevice } from "../src/format/ir.js";
import type { ExportedPartition } from "../src/format/exits.js";
import { rulesFromManifest } from "../src/format/rules.js";
import { precisionSummary } from "../src/cli/eval.js";
import type { ExitOutputs, ExitTable, FileSet } from "../src/runtime/eval/outputs.js";
import { comparePrecision, exitComparison, type ShippedSystem } from "../src/runtime/eval/precision.js";
import { figuresOf, routedAnswers } from "../src/runtime/eval/systems.js";
import { mulberry32 } from "../src/runtime/train/data/rng.js";

const io = (name: string, tensor: number, exit: string | null) => ({ name, tensor, dtype: exit ? "float32" : "uint8", shape: exit ? [3] : [4], layout: exit ? ("NC" as const) : ("NHWC" as const), exit });
const MAIN_FILE: ExportedPartition = { name: "main", device: "edge", path: "edge/main.onnx", exits: ["main"], inputs: [io("image", 0, null)], outputs: [io("probs_main", 1, "main")], precision: "int8", reference: "edge/reference/main.onnx" };
const CLOUD_FILE: ExportedPartition = { name: "cloud", device: "cloud", path: "cloud/model.onnx", exits: ["cloud"], inputs: [io("image", 0, null)], outputs: [io("probs_cloud", 2, "cloud")], precision: "fp32", reference: null };

/** Exit tables over three classes; `rows` are each input's probabilities. */
function outputs(ran: FileSet, labels: number[], main: number[][], cloud: number[][]): ExitOutputs {
  const table = (name: string, file: ExportedPartition, rows: number[][], needs: number): ExitTable => ({
    name,
    file,
    output: file.outputs[0]!,
    classes: { kind: "all" },
    classIds: [0, 1, 2],
    hard: [false, false, false],
    k: 3,
    device: file.device,
    probs: Float32Array.from(rows.flat()),
    needs,
  });
  return {
    n: labels.length,
    labels,
    exits: new Map([
      ["main", table("main", MAIN_FILE, main, 1)],
      ["cloud", table("cloud", CLOUD_FILE, cloud, 2)],
    ]),
    files: [MAIN_FILE, CLOUD_FILE],
    fileCosts: [
      { device: "edge", macs: 100, bytesIn: 0 },
      { device: "cloud", macs: 1000, bytesIn: 4 },
    ],
    hardIds: new Set(),
    labelNames: ["a", "b", "c"],
    ran,
  };
}

const device = (role: "edge" | "cloud", precision: IrJsonDevice["precision"]): IrJsonDevice => ({
  role,
  preset: null,
  precision,
  weightMemoryBytes: null,
  activationMemoryBytes: null,
  macsPerInference: null,
  energyPerMacJ: precision === "int8" ? 0.23e-12 : 4.6e-12,
  throughputMacsPerS: 1e9,
  uplinkBps: 1e6,
  energyPerBitJ: 1e-7,
  rttS: 0.01,
});
const DEVICES = { edge: device("edge", "int8"), cloud: device("cloud", "fp32") };
const CLOUD = new Set(["cloud"]);
/** `cloud when max_prob(main) < t; main otherwise`. */
const ROUTING: Manifest["routing"] = [
  { target: "cloud", when: { kind: "threshold", measure: { measure: "max_prob", exit: "main" }, op: "<", threshold: { kind: "value", value: 0.6 } } },
  { target: "main", when: null },
];

function shippedSystem(out: ExitOutputs, thresholds: number[]): ShippedSystem {
  const answers = routedAnswers(out, rulesFromManifest({ routing: ROUTING }, thresholds));
  return { routing: ROUTING, thresholds, answers, figures: figuresOf(out, answers, DEVICES) };
}

// Labels 0 1 2 0 1 2. Shipped main predicts 0 0 2 1 1 0 (right on inputs 0, 2, 4), with max_prob
// .9 .5 .7 .4 .8 .65: inputs 1 and 3 go to the cloud at t = 0.6. The reference differs on input 1
// (max_prob .7, stays on the edge, still wrong) and input 5 (now right). The cloud is always right.
const LABELS = [0, 1, 2, 0, 1, 2];
const SHIPPED_MAIN = [
  [0.9, 0.05, 0.05],
  [0.5, 0.4, 0.1],
  [0.1, 0.2, 0.7],
  [0.3, 0.4, 0.3],
  [0.1, 0.8, 0.1],
  [0.65, 0.05, 0.3],
];
const REFERENCE_MAIN = SHIPPED_MAIN.map((r, i) => (i === 1 ? [0.7, 0.2, 0.1] : i === 5 ? [0.3, 0.05, 0.65] : r));
const CLOUD_ROWS = LABELS.map((l) => [0, 1, 2].map((c) => (c === l ? 0.8 : 0.1)));
const shipped = outputs("shipped", LABELS, SHIPPED_MAIN, CLOUD_ROWS);
const reference = outputs("reference", LABELS, REFERENCE_MAIN, CLOUD_ROWS);
const system = shippedSystem(shipped, [0.6]);

describe("the shipped files against their float32 references", () => {
  it("compares each exit: accuracy on its classes each way, and top-1 agreement", () => {
    expect(exitComparison(shipped, reference)).toEqual([
      { exit: "main", file: "edge/main.onnx", precision: "int8", reference: "edge/reference/main.onnx", samples: 6, accuracy: { shipped: 0.5, reference: 0.6667 }, agreement: 0.833333, agreementOnClasses: 0.833333 },
      { exit: "cloud", file: "cloud/model.onnx", precision: "fp32", reference: null, samples: 6, accuracy: { shipped: 1, reference: 1 }, agreement: 1, agreementOnClasses: 1 },
    ]);
  });

  it("routes the references with the shipped system's thresholds, and with the cloud threshold moved to the shipped cloud fraction", () => {
    const c = comparePrecision(shipped, reference, system, DEVICES, CLOUD);
    expect(c.files).toEqual([{ path: "edge/main.onnx", device: "edge", precision: "int8", reference: "edge/reference/main.onnx" }]);
    // The shipped side is the routed system's own figures.
    expect(c.routed.shipped).toEqual({ accuracy: system.figures.accuracy, fractions: system.figures.fractions, cloudFraction: system.figures.fractions.cloud });
    expect(c.routed.shipped).toEqual({ accuracy: 0.833333, fractions: { main: 0.666667, cloud: 0.333333 }, cloudFraction: 0.333333 });
    // Same threshold: input 1 stays on the edge and is wrong there; input 5 is now right.
    expect(c.routed.reference).toEqual({ accuracy: 0.833333, fractions: { main: 0.833333, cloud: 0.166667 }, cloudFraction: 0.166667 });
    expect(c.routed.sameExit).toBe(0.833333);
    expect(c.routed.agreement).toBe(0.666667);
    // Two inputs to the cloud, as shipped: the threshold between the reference's .65 and .7.
    expect(c.routed.referenceAtCloudFraction).toEqual({ accuracy: 0.833333, fractions: { main: 0.666667, cloud: 0.333333 }, cloudFraction: 0.333333, condition: "max_prob(main) < t", threshold: 0.675 });
  });

  it("finds the threshold that sends as many inputs to the cloud as the shipped system, whichever way the rule points", () => {
    const rng = mulberry32(7);
    const n = 500;
    const rows = () => Array.from({ length: n }, () => {
      const a = rng();
      const b = rng() * (1 - a);
      return [a, b, 1 - a - b];
    });
    const labels = Array.from({ length: n }, () => Math.floor(rng() * 3));
    const s = outputs("shipped", labels, rows(), rows());
    const r = outputs("reference", labels, rows(), rows());
    for (const op of ["<", ">"]) {
      const routing = structuredClone(ROUTING) as { when: { op: string } | null }[];
      routing[0]!.when!.op = op;
      for (const t of [0.3, 0.5, 0.8]) {
        const answers = routedAnswers(s, rulesFromManifest({ routing: routing as Manifest["routing"] }, [t]));
        const sys = { routing: routing as Manifest["routing"], thresholds: [t], answers, figures: figuresOf(s, answers, DEVICES) };
        const moved = comparePrecision(s, r, sys, DEVICES, CLOUD).routed.referenceAtCloudFraction!;
        expect(moved.cloudFraction, `${op} ${t}`).toBe(sys.figures.fractions.cloud);
        expect(moved.condition).toBe(`max_prob(main) ${op} t`);
      }
    }
  });

  it("leaves out the same-cloud-fraction row when no threshold sends inputs to the cloud, and refuses tables of other inputs", () => {
    const routing: Manifest["routing"] = [
      { target: "main", when: { kind: "threshold", measure: { measure: "max_prob", exit: "main" }, op: ">", threshold: { kind: "value", value: 0.6 } } },
      { target: "cloud", when: null },
    ];
    const answers = routedAnswers(shipped, rulesFromManifest({ routing }, [0.6]));
    const c = comparePrecision(shipped, reference, { routing, thresholds: [0.6], answers, figures: figuresOf(shipped, answers, DEVICES) }, DEVICES, CLOUD);
    expect(c.routed.referenceAtCloudFraction).toBeNull();
    expect(() => comparePrecision(shipped, shipped, system, DEVICES, CLOUD)).toThrow(/shipped and the reference outputs/);
    expect(() => comparePrecision(shipped, outputs("reference", [0], [[1, 0, 0]], [[1, 0, 0]]), system, DEVICES, CLOUD)).toThrow(/same inputs/);
  });

  it("is told in the text of meanet eval: each exit's file and precision, then the routed system both ways", () => {
    const text = precisionSummary(comparePrecision(shipped, reference, system, DEVICES, CLOUD), ["main", "cloud"], true).split("\n");
    expect(text[0]).toBe("shipped (int8) vs float32 reference on the same test images: edge/reference/main.onnx in place of edge/main.onnx");
    expect(text.find((l) => l.startsWith("main "))!.split(/\s{2,}/)).toEqual(["main", "edge/main.onnx", "int8", "50.00%", "66.67%", "83.33%", "83.33%"]);
    expect(text.find((l) => l.startsWith("cloud "))!.split(/\s{2,}/)).toEqual(["cloud", "cloud/model.onnx", "fp32", "100.00%", "100.00%", "100.00%", "100.00%"]);
    expect(text.find((l) => l.startsWith("routed, shipped (int8)"))!.split(/\s{2,}/)).toEqual(["routed, shipped (int8)", "83.33%", "66.67%", "33.33%"]);
    expect(text.find((l) => l.startsWith("routed, float32 reference, same thresholds"))!.split(/\s{2,}/)).toEqual(["routed, float32 reference, same thresholds", "83.33%", "83.33%", "16.67%"]);
    expect(text.find((l) => l.startsWith("routed, float32 reference, same cloud fraction"))!.split(/\s{2,}/)).toEqual(["routed, float32 reference, same cloud fraction", "83.33%", "66.67%", "33.33%"]);
    expect(text).toContain("thresholds: the shipped system's (calibrated on the shipped files' validation outputs); same cloud fraction: max_prob(main) < 0.675, the threshold that sends as many images to the cloud");
    expect(text.at(-1)).toBe("the shipped and reference systems (same thresholds) send 83.33% of the images to the same exit and give the same answer for 66.67%");
  });
});
