/**
 * The routed edge–cloud classifier. For a batch it runs the first edge file, applies the routing
 * rules per input, runs further edge files only for the inputs whose rules read or choose their
 * exits, and sends the inputs routed to a cloud exit (their model input, or the cut tensors of an
 * `auto` block) to the cloud in one request. When the cloud cannot answer, those inputs get the
 * edge's own answer: the rules again without cloud targets, marked `degraded`. No input is dropped.
 */
import { join } from "node:path";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { readBuild } from "../../format/build.js";
import { exitInfos, exitView, exportedPartitions, ioBytes, partitionMacs, producerOf, unknownExit, type ExitInfo, type ExportedPartition } from "../../format/exits.js";
import { hardClassIds } from "../../format/hardClasses.js";
import type { IrJson } from "../../format/ir.js";
import { DEFER_OUTPUT, type Manifest, type PartitionIo } from "../../format/manifest.js";
import { DEFER_READ } from "../../format/defer.js";
import { argmax } from "../../format/measures.js";
import { decide, ExitUnavailable, NeedExit, rulesFromManifest, type ExitView, type Rule } from "../../format/rules.js";
import { readExportedFile } from "../export/artifacts.js";
import { CloudError, protocolDatatype, type CloudClient } from "./client.js";
import { feedTensor, openSession, tensorData, type FeedData, type InferenceSession } from "./onnx.js";

export interface Classification {
  /** The predicted class: its label and index among the spec's labels. */
  label: string;
  classId: number;
  /** The exit that gave the answer. */
  exit: string;
  /** Where the rules sent the input (differs from `exit` only when degraded). */
  target: string;
  /** The answering exit's top probability. */
  confidence: number;
  /** The cloud was needed but gave no usable answer; the edge answered instead. */
  degraded: boolean;
  /** Wall time of the batch's edge work, and of the cloud request that carried this input. */
  edgeMs: number;
  cloudMs: number;
  /** MACs run on the edge for this input, and bytes of tensors sent to the cloud. */
  edgeMacs: number;
  bytesSent: number;
}

export interface RouterOptions {
  buildDir: string;
  /** Where cloud exits are computed; without one, inputs routed to the cloud are answered degraded. */
  cloud?: CloudClient;
  /** The routing rules; by default those of the manifest. The generated router passes its own. */
  rules?: Rule[];
  intraOpThreads?: number;
}

/** Per-batch state: every file output computed so far, by row, and which rows have it. */
interface BatchState {
  n: number;
  input: FeedData;
  /** Float32 except tensors an edge file sends to the cloud at the edge's precision: uint8, or float16 as its 16 bits. */
  values: Map<string, { data: FeedData; have: Uint8Array }>;
  macs: Float64Array;
  bytesSent: Float64Array;
  cloudMs: Float64Array;
  cloudFailed: Uint8Array;
  /** The deferral model's score per row, once computed. */
  defer?: { scores: Float32Array; have: Uint8Array };
}

/** A zeroed array of `length` values of the same element type as `data`. */
const emptyLike = (data: FeedData, length: number): FeedData => new (data.constructor as new (n: number) => FeedData)(length);

export class Router {
  readonly manifest: Manifest;
  readonly ir: IrJson;
  private readonly files: ExportedPartition[];
  private readonly exits: Map<string, ExitInfo>;
  private readonly hardIds: Set<number>;
  private readonly fileMacs: Map<string, number>;
  private readonly inputSize: number;
  private readonly cloudExitSet: ReadonlySet<string>;

  private constructor(
    build: { ir: IrJson; manifest: Manifest },
    private readonly sessions: Map<string, InferenceSession>,
    private readonly rules: Rule[],
    private readonly cloud: CloudClient | undefined,
    private readonly deferSession: InferenceSession | undefined,
  ) {
    this.ir = build.ir;
    this.manifest = build.manifest;
    this.files = exportedPartitions(build.manifest);
    this.hardIds = new Set(hardClassIds(build.manifest));
    this.exits = exitInfos(build.manifest);
    this.fileMacs = partitionMacs(build.ir, this.files);
    this.inputSize = build.ir.input.shape.reduce((a, b) => a * b, 1);
    this.cloudExitSet = new Set([...this.exits.values()].filter((e) => e.file.device === "cloud").map((e) => e.name));
  }

  static async open(o: RouterOptions): Promise<Router> {
    const build = readBuild(o.buildDir);
    if (!build.manifest.export) throw new MeanetError(Codes.BuildInvalid, `${join(o.buildDir, "manifest.json")} lists no ONNX export; run \`meanet export ${o.buildDir}\` first`);
    const rules = o.rules ?? rulesFromManifest(build.manifest);
    const sessions = new Map<string, InferenceSession>();
    for (const p of build.manifest.export.partitions) {
      if (p.device !== "edge") continue;
      // The files the rules run on must be the ones exported (and verified), not files changed since.
      const bytes = readExportedFile(build, p.path);
      sessions.set(p.path, await openSession(join(o.buildDir, p.path), o.intraOpThreads ? { intraOpThreads: o.intraOpThreads } : {}, bytes));
    }
    const deferral = build.manifest.export.deferral;
    const deferSession = deferral ? await openSession(join(o.buildDir, deferral.path), o.intraOpThreads ? { intraOpThreads: o.intraOpThreads } : {}, readExportedFile(build, deferral.path)) : undefined;
    return new Router(build, sessions, rules, o.cloud, deferSession);
  }

  /** Exits whose file runs on the cloud. */
  get cloudExits(): string[] {
    return [...this.cloudExitSet];
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) await s.release();
    await this.deferSession?.release();
  }

  /** Classifies `count` inputs laid out NHWC, one after another, in the model input's type. */
  async classify(input: FeedData, count: number): Promise<Classification[]> {
    if (input.length !== count * this.inputSize) throw new RangeError(`classify: ${input.length} values for ${count} inputs of ${this.ir.input.shape.join("×")}`);
    const started = performance.now();
    const st: BatchState = {
      n: count,
      input,
      values: new Map(),
      macs: new Float64Array(count),
      bytesSent: new Float64Array(count),
      cloudMs: new Float64Array(count),
      cloudFailed: new Uint8Array(count),
    };
    let cloudTime = 0;
    const all = [...Array(count).keys()];
    // Every rule set reads the first file's exit first; computing it up front saves a round of asking.
    if (this.files[0]!.device === "edge") await this.runFile(st, this.files[0]!, all, () => {});
    const targets = await this.route(st, all, undefined, (ms) => (cloudTime += ms));
    // Inputs whose cloud exit could not be had: route again without the cloud.
    const skip = this.cloudExitSet;
    const degraded = [...Array(count).keys()].filter((r) => st.cloudFailed[r] || (skip.has(targets[r]!) && !this.has(st, targets[r]!, r)));
    const fallback = degraded.length ? await this.route(st, degraded, skip, () => {}) : [];
    const fallbackOf = new Map(degraded.map((r, i) => [r, fallback[i]!]));
    const edgeMs = performance.now() - started - cloudTime;
    return targets.map((target, r) => {
      const exit = fallbackOf.get(r) ?? target!;
      const info = this.exits.get(exit)!;
      const probs = st.values.get(info.output.name)!.data as Float32Array;
      const best = argmax(probs, r * info.k, info.k);
      const classId = info.classIds[best]!;
      return {
        label: this.manifest.labels[classId]!,
        classId,
        exit,
        target: target!,
        confidence: probs[r * info.k + best]!,
        degraded: fallbackOf.has(r),
        edgeMs,
        cloudMs: st.cloudMs[r]!,
        edgeMacs: st.macs[r]!,
        bytesSent: st.bytesSent[r]!,
      };
    });
  }

  private has(st: BatchState, exit: string, row: number): boolean {
    const v = st.values.get(this.exits.get(exit)!.output.name);
    return Boolean(v?.have[row]);
  }

  /** Decides the target of each row, computing the exits the rules read, then the targets themselves. */
  private async route(st: BatchState, rows: number[], skip: ReadonlySet<string> | undefined, onCloud: (ms: number) => void): Promise<string[]> {
    const target = new Map<number, string>();
    let pending = rows;
    while (pending.length) {
      const needs = new Map<string, number[]>();
      for (const r of pending) {
        try {
          const t = decide(this.rules, this.view(st, r, skip), skip);
          if (t === undefined) throw new MeanetError(Codes.BuildInvalid, "no routing rule holds and there is no `otherwise` rule");
          target.set(r, t);
        } catch (e) {
          // A condition read a cloud exit the cloud did not give: the input falls back to the edge.
          if (e instanceof ExitUnavailable) target.set(r, e.exit);
          else if (e instanceof NeedExit) needs.set(e.exit, [...(needs.get(e.exit) ?? []), r]);
          else throw e;
        }
      }
      for (const [exit, need] of needs) await this.computeExit(st, exit, need, onCloud);
      pending = [...needs.values()].flat();
    }
    const byTarget = new Map<string, number[]>();
    for (const r of rows) {
      const t = target.get(r)!;
      if (!this.has(st, t, r) && !(this.exits.get(t)!.file.device === "cloud" && st.cloudFailed[r])) byTarget.set(t, [...(byTarget.get(t) ?? []), r]);
    }
    for (const [exit, need] of byTarget) await this.computeExit(st, exit, need, onCloud);
    return rows.map((r) => target.get(r)!);
  }

  /** Row `row`'s view: an exit not computed yet for it is asked for (NeedExit), one that cannot be had does not hold. */
  private view(st: BatchState, row: number, skip: ReadonlySet<string> | undefined): ExitView {
    const probs = (exit: string) => {
      const info = this.exits.get(exit);
      if (!info) throw unknownExit(exit);
      const v = st.values.get(info.output.name);
      if (!v?.have[row]) {
        if (skip?.has(exit) || (info.file.device === "cloud" && st.cloudFailed[row])) throw new ExitUnavailable(exit);
        throw new NeedExit(exit);
      }
      // Exit outputs are probabilities: float32 in every file.
      return { info, data: v.data as Float32Array, offset: row * info.k };
    };
    const deferral = this.manifest.export!.deferral;
    const defer = deferral
      ? () => {
          if (st.defer?.have[row]) return st.defer.scores[row]!;
          // The exits it reads first (each may be asked for), then the deferral file itself.
          for (const x of deferral.exits) probs(x.name);
          throw new NeedExit(DEFER_READ);
        }
      : undefined;
    return exitView(probs, this.hardIds, this.manifest.labels, defer);
  }

  /** Runs the deferral file for rows whose exits it reads are computed. */
  private async runDeferral(st: BatchState, rows: number[]): Promise<void> {
    const deferral = this.manifest.export!.deferral!;
    const feeds = Object.fromEntries(
      deferral.exits.map((x) => {
        const io = this.exits.get(x.name)!.output;
        return [io.name, feedTensor("float32", this.gather(st, io, rows), rows.length, [x.k])];
      }),
    );
    const result = await this.deferSession!.run(feeds);
    const scores = result[DEFER_OUTPUT]!.data as Float32Array;
    st.defer ??= { scores: new Float32Array(st.n), have: new Uint8Array(st.n) };
    rows.forEach((r, i) => {
      st.defer!.scores[r] = scores[i]!;
      st.defer!.have[r] = 1;
      st.macs[r] += deferral.macs;
    });
  }

  private async computeExit(st: BatchState, exit: string, rows: number[], onCloud: (ms: number) => void): Promise<void> {
    if (exit === DEFER_READ) return this.runDeferral(st, rows);
    const info = this.exits.get(exit);
    if (!info) throw new MeanetError(Codes.BuildInvalid, `the routing rules name exit \`${exit}\`, which no exported file gives`);
    await this.runFile(st, info.file, rows, onCloud);
  }

  /** Runs a file for the rows that lack its outputs, after the files its inputs come from. */
  private async runFile(st: BatchState, file: ExportedPartition, rows: number[], onCloud: (ms: number) => void): Promise<void> {
    const first = st.values.get(file.outputs[0]!.name);
    const todo = rows.filter((r) => !first?.have[r] && !(file.device === "cloud" && st.cloudFailed[r]));
    if (!todo.length) return;
    for (const io of file.inputs) {
      if (io.tensor === this.ir.input.tensor) continue;
      const producer = producerOf(this.files, io)!;
      await this.runFile(st, producer, todo, onCloud);
    }
    const ready = todo.filter((r) => file.inputs.every((io) => io.tensor === this.ir.input.tensor || st.values.get(io.name)?.have[r]));
    if (!ready.length) return;
    const gathered = file.inputs.map((io) => ({ io, data: this.gather(st, io, ready) }));
    let outputs: Record<string, FeedData>;
    if (file.device === "edge") {
      const feeds = Object.fromEntries(gathered.map(({ io, data }) => [io.name, feedTensor(io.dtype, data, ready.length, io.shape)]));
      const result = await this.sessions.get(file.path)!.run(feeds);
      outputs = Object.fromEntries(file.outputs.map((o) => [o.name, tensorData(result[o.name]!)]));
      const macs = this.fileMacs.get(file.path)!;
      for (const r of ready) st.macs[r] += macs;
    } else {
      const t0 = performance.now();
      try {
        if (!this.cloud) throw new CloudError("no cloud is configured", false);
        // The client checks the reply against the file's outputs: a reply that fails is a failed call.
        const reply = await this.cloud.infer(
          gathered.map(({ io, data }) => ({ name: io.name, datatype: protocolDatatype(io.dtype), shape: [ready.length, ...io.shape], data })),
          file.outputs.map((o) => ({ name: o.name, datatype: protocolDatatype(o.dtype), shape: [ready.length, ...o.shape], probabilities: o.exit !== null })),
        );
        outputs = Object.fromEntries(file.outputs.map((o) => [o.name, reply[o.name]!.data]));
      } catch (e) {
        if (!(e instanceof CloudError)) throw e;
        for (const r of ready) st.cloudFailed[r] = 1;
        onCloud(performance.now() - t0);
        return;
      } finally {
        const ms = performance.now() - t0;
        for (const r of ready) st.cloudMs[r] = ms;
      }
      onCloud(performance.now() - t0);
      const bytes = gathered.reduce((s, { io }) => s + ioBytes(io), 0);
      for (const r of ready) st.bytesSent[r] += bytes;
    }
    for (const o of file.outputs) this.scatter(st, o, ready, outputs[o.name]!);
  }

  private gather(st: BatchState, io: PartitionIo, rows: number[]): FeedData {
    const size = io.shape.reduce((a, b) => a * b, 1);
    const src = io.tensor === this.ir.input.tensor ? st.input : st.values.get(io.name)!.data;
    if (rows.length === st.n && rows.every((r, i) => r === i)) return src;
    const out = emptyLike(src, rows.length * size);
    rows.forEach((r, i) => out.set(src.subarray(r * size, (r + 1) * size), i * size));
    return out;
  }

  private scatter(st: BatchState, io: PartitionIo, rows: number[], data: FeedData): void {
    const size = io.shape.reduce((a, b) => a * b, 1);
    let v = st.values.get(io.name);
    if (!v && rows.length === st.n) {
      // The whole batch at once: keep the engine's array rather than copying it.
      st.values.set(io.name, { data, have: new Uint8Array(st.n).fill(1) });
      return;
    }
    if (!v) {
      v = { data: emptyLike(data, st.n * size), have: new Uint8Array(st.n) };
      st.values.set(io.name, v);
    }
    rows.forEach((r, i) => {
      v!.data.set(data.subarray(i * size, (i + 1) * size), r * size);
      v!.have[r] = 1;
    });
  }
}
