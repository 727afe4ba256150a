/**
 * Ways of answering the evaluated inputs, all chosen from the same exit outputs: the routed system
 * (the spec's rule), and the baselines of the evaluation — edge only, edge with the extension but
 * no cloud, cloud only, a class-unaware entropy early exit, and the oracle router. Each is a list
 * of answers (exit and the files run per input), scored by `figuresOf` with the device model.
 */
import type { IrJsonDevice } from "../../format/ir.js";
import type { SystemFigures } from "../../format/eval.js";
import { entropy } from "../../format/measures.js";
import { decide, type Rule } from "../../format/rules.js";
import { predictionOf, readNeeds, viewOf, type ExitOutputs, type ExitTable } from "./outputs.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";

export interface Answer {
  exit: string;
  /** Bit mask of the files run for this input. */
  files: number;
}

export type Devices = Record<"edge" | "cloud", IrJsonDevice>;

const round = (x: number, digits = 6) => Number(x.toFixed(digits));
const sig = (x: number) => Number(x.toPrecision(5));

/** Per input cost of running a set of files, by the cost model (dsl/reference.md §14). */
export function costOf(out: ExitOutputs, files: number, devices: Devices) {
  let edgeMacs = 0;
  let cloudMacs = 0;
  let bytes = 0;
  out.fileCosts.forEach((c, i) => {
    if (!(files & (1 << i))) return;
    if (c.device === "edge") edgeMacs += c.macs;
    else {
      cloudMacs += c.macs;
      bytes += c.bytesIn;
    }
  });
  const { edge, cloud } = devices;
  const usesCloud = out.fileCosts.some((c, i) => c.device === "cloud" && files & (1 << i));
  const cloudLatencyS = usesCloud ? (bytes * 8) / edge.uplinkBps + edge.rttS + cloudMacs / cloud.throughputMacsPerS : 0;
  return {
    edgeMacs,
    cloudMacs,
    bytes,
    energyJ: edgeMacs * edge.energyPerMacJ + bytes * 8 * edge.energyPerBitJ,
    latencyS: edgeMacs / edge.throughputMacsPerS + cloudLatencyS,
    cloudEnergyJ: cloudMacs * cloud.energyPerMacJ,
    cloudLatencyS,
  };
}

/** Whether each answer is right. */
export function correctness(out: ExitOutputs, answers: readonly Answer[]): Uint8Array {
  const ok = new Uint8Array(answers.length);
  answers.forEach((a, row) => (ok[row] = predictionOf(out.exits.get(a.exit)!, row) === out.labels[row] ? 1 : 0));
  return ok;
}

export function figuresOf(out: ExitOutputs, answers: readonly Answer[], devices: Devices): SystemFigures {
  const n = answers.length;
  const count: Record<string, number> = {};
  const right: Record<string, number> = {};
  for (const x of out.exits.keys()) count[x] = right[x] = 0;
  const costs = new Map<number, ReturnType<typeof costOf>>();
  const sum = { edgeMacs: 0, cloudMacs: 0, bytes: 0, energyJ: 0, latencyS: 0, cloudEnergyJ: 0, cloudLatencyS: 0 };
  let correct = 0;
  const ok = correctness(out, answers);
  answers.forEach((a, row) => {
    count[a.exit]!++;
    if (ok[row]) {
      correct++;
      right[a.exit]!++;
    }
    let c = costs.get(a.files);
    if (!c) costs.set(a.files, (c = costOf(out, a.files, devices)));
    for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += c[k];
  });
  const names = [...out.exits.keys()];
  return {
    accuracy: round(correct / n),
    fractions: Object.fromEntries(names.map((x) => [x, round(count[x]! / n)])),
    exitAccuracy: Object.fromEntries(names.map((x) => [x, count[x] ? round(right[x]! / count[x]!) : null])),
    energyJ: sig(sum.energyJ / n),
    latencyS: sig(sum.latencyS / n),
    edgeMacs: Math.round(sum.edgeMacs / n),
    cloudMacs: Math.round(sum.cloudMacs / n),
    bytesSent: round(sum.bytes / n, 2),
    cloudEnergyJ: sig(sum.cloudEnergyJ / n),
    cloudLatencyS: sig(sum.cloudLatencyS / n),
  };
}

/** The spec's rule over every input. With `skip` (the cloud exits) it is the edge's own answer. */
export function routedAnswers(out: ExitOutputs, rules: readonly Rule[], skip?: ReadonlySet<string>): Answer[] {
  // The router always runs the first file for the whole batch before deciding.
  const first = out.files[0]!.device === "edge" ? 1 : 0;
  const answers: Answer[] = [];
  for (let row = 0; row < out.n; row++) {
    const read = new Set<string>();
    const target = decide(rules, viewOf(out, row, read, skip), skip);
    if (target === undefined) throw new MeanetError(Codes.BuildInvalid, "no routing rule holds for an input and there is no `otherwise` rule in manifest.json");
    const files = first | out.exits.get(target)!.needs | readNeeds(out, read);
    answers.push({ exit: target, files });
  }
  return answers;
}

/** The first exit over all classes on the given device: the edge-only answer and the cloud-only one. */
export function fullExit(out: ExitOutputs, device: "edge" | "cloud"): ExitTable | undefined {
  return [...out.exits.values()].find((x) => x.device === device && x.classes.kind === "all");
}

export function everyInputAt(out: ExitOutputs, exit: ExitTable): Answer[] {
  return Array.from({ length: out.n }, () => ({ exit: exit.name, files: exit.needs }));
}

/** Inputs ordered by the entropy of the edge exit, most uncertain first. */
export function byEntropy(out: ExitOutputs, edge: ExitTable): { order: Uint32Array; entropies: Float64Array } {
  const entropies = new Float64Array(out.n);
  for (let r = 0; r < out.n; r++) entropies[r] = entropy(edge.probs, r * edge.k, edge.k);
  const order = Uint32Array.from(entropies.keys()).sort((a, b) => entropies[b]! - entropies[a]! || a - b);
  return { order, entropies };
}

/**
 * BranchyNet-style early exit without classes: the edge exit answers unless its entropy is among
 * the `sent` highest, which go to the cloud exit. Returns the answers and the entropy threshold.
 */
export function entropyExitAnswers(out: ExitOutputs, edge: ExitTable, cloud: ExitTable, ranked: ReturnType<typeof byEntropy>, sent: number): { answers: Answer[]; threshold: number | null } {
  const answers = everyInputAt(out, edge);
  for (let i = 0; i < sent; i++) answers[ranked.order[i]!] = { exit: cloud.name, files: edge.needs | cloud.needs };
  const threshold = sent > 0 && sent < out.n ? (ranked.entropies[ranked.order[sent - 1]!]! + ranked.entropies[ranked.order[sent]!]!) / 2 : null;
  return { answers, threshold };
}

/** The oracle router: the edge's own answer, and the cloud for exactly the inputs the edge gets wrong. */
export function oracleAnswers(out: ExitOutputs, edgeAnswers: readonly Answer[], cloud: ExitTable): Answer[] {
  const ok = correctness(out, edgeAnswers);
  return edgeAnswers.map((a, r) => (ok[r] ? a : { exit: cloud.name, files: a.files | cloud.needs }));
}
