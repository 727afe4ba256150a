/**
 * Dynamic batching: requests that arrive close together run as one onnxruntime call.
 *
 * A request joins the queue; the queue is run as one batch when it holds `maxBatch` samples or
 * when `maxDelayMs` has passed since its oldest request arrived, whichever comes first. Requests
 * are never split: a batch takes whole requests in arrival order while they fit (the protocol
 * layer rejects a single request above `maxBatch`). Only one batch runs at a time, because one
 * session already uses the cores it is given; requests arriving meanwhile queue up for the next
 * batch, which starts as soon as the running one ends, without waiting out the delay again:
 * those requests have waited while it ran (on the main-thread engine they are only read once it
 * ends, so the batch starts right after that read). With `maxDelayMs` 0, a batch still takes the
 * requests read in the same turn of the event loop. Each request gets back its own rows of every
 * output.
 */
import type { Datatype, ElementArray } from "./datatypes.js";

/** Runs one batch: one flat array per model input in, one per model output out, `batch` rows each. */
export type BatchRunner = (inputs: ElementArray[], batch: number) => Promise<ElementArray[]>;

export interface BatchTensor {
  datatype: Datatype;
  /** Elements per sample. */
  size: number;
}

export interface BatchObserver {
  /**
   * A batch finished, or failed, after `seconds` in onnxruntime; `waits` holds the seconds each of
   * its requests spent in the queue before the run started.
   */
  batch(samples: number, waits: number[], seconds: number, failed: boolean): void;
  queue(requests: number, samples: number): void;
}

export interface BatcherOptions {
  maxBatch: number;
  maxDelayMs: number;
}

export interface BatchResult {
  /** This request's rows of every model output, in the model's output order. */
  outputs: ElementArray[];
  /** Samples in the onnxruntime run this request was part of. */
  batchSize: number;
}

interface Job {
  inputs: ElementArray[];
  batch: number;
  arrived: number;
  resolve(r: BatchResult): void;
  reject(e: unknown): void;
}

export class Batcher {
  private readonly queue: Job[] = [];
  private queuedSamples = 0;
  private running = false;
  private timer: { kind: "timeout"; handle: NodeJS.Timeout } | { kind: "immediate"; handle: NodeJS.Immediate } | undefined;
  private flushing = false;
  /** A batch just ended: the requests read next have been waiting while it ran. */
  private catchUp = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runner: BatchRunner,
    private readonly inputs: BatchTensor[],
    private readonly outputs: BatchTensor[],
    private readonly options: BatcherOptions,
    private readonly observer: BatchObserver,
  ) {}

  get queuedRequests(): number {
    return this.queue.length;
  }

  submit(inputs: ElementArray[], batch: number): Promise<BatchResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ inputs, batch, arrived: performance.now(), resolve, reject });
      this.queuedSamples += batch;
      this.observer.queue(this.queue.length, this.queuedSamples);
      this.schedule();
    });
  }

  /** Runs what is queued without waiting for the delay, and resolves once nothing is queued or running. */
  drain(): Promise<void> {
    this.flushing = true;
    this.schedule();
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    const waited = this.queue.length ? performance.now() - this.queue[0]!.arrived : 0;
    if (this.queue.length && (this.flushing || this.queuedSamples >= this.options.maxBatch || (waited >= this.options.maxDelayMs && this.options.maxDelayMs > 0))) {
      this.dispatch();
    } else if (this.catchUp || (this.queue.length && this.options.maxDelayMs === 0)) {
      // Run once the sockets have been read again: requests that came while a batch ran have
      // already waited (on the main-thread engine they are only read now), and with no delay the
      // requests read in the same turn of the event loop still join.
      if (this.timer?.kind === "timeout") this.clearTimer();
      this.timer ??= { kind: "immediate", handle: setImmediate(() => this.fire()) };
    } else if (this.queue.length && this.timer === undefined) {
      this.timer = { kind: "timeout", handle: setTimeout(() => this.fire(), this.options.maxDelayMs - waited) };
    }
  }

  private fire(): void {
    this.timer = undefined;
    this.catchUp = false;
    if (!this.running && this.queue.length > 0) this.dispatch();
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    if (this.timer.kind === "timeout") clearTimeout(this.timer.handle);
    else clearImmediate(this.timer.handle);
    this.timer = undefined;
  }

  /** Takes whole requests in arrival order while they fit in one batch. */
  private take(): Job[] {
    const jobs: Job[] = [];
    let samples = 0;
    while (this.queue.length > 0 && (jobs.length === 0 || samples + this.queue[0]!.batch <= this.options.maxBatch)) {
      const job = this.queue.shift()!;
      samples += job.batch;
      jobs.push(job);
    }
    this.queuedSamples -= samples;
    return jobs;
  }

  private dispatch(): void {
    this.clearTimer();
    this.catchUp = false;
    const jobs = this.take();
    this.observer.queue(this.queue.length, this.queuedSamples);
    this.running = true;
    void this.run(jobs).finally(() => {
      this.running = false;
      this.catchUp = true;
      this.schedule();
    });
  }

  private async run(jobs: Job[]): Promise<void> {
    const batch = jobs.reduce((s, j) => s + j.batch, 0);
    const started = performance.now();
    const waits = jobs.map((j) => (started - j.arrived) / 1000);
    let outputs: ElementArray[];
    try {
      outputs = await this.runner(concat(jobs, this.inputs, batch), batch);
      const short = outputs.findIndex((o, i) => o.length !== batch * this.outputs[i]!.size);
      if (outputs.length !== this.outputs.length || short >= 0) throw new Error(`onnxruntime returned ${outputs.length} outputs of unexpected sizes for a batch of ${batch}`);
    } catch (e) {
      this.observer.batch(batch, waits, (performance.now() - started) / 1000, true);
      for (const j of jobs) j.reject(e);
      return;
    }
    this.observer.batch(batch, waits, (performance.now() - started) / 1000, false);
    let row = 0;
    for (const j of jobs) {
      const mine = jobs.length === 1 ? outputs : outputs.map((o, i) => o.subarray(row * this.outputs[i]!.size, (row + j.batch) * this.outputs[i]!.size));
      row += j.batch;
      j.resolve({ outputs: mine, batchSize: batch });
    }
  }
}

/** Each input of every job, one after another along the batch dimension. */
function concat(jobs: Job[], tensors: BatchTensor[], batch: number): ElementArray[] {
  if (jobs.length === 1) return jobs[0]!.inputs;
  return tensors.map((t, i) => {
    const all = t.datatype.create(batch * t.size);
    let offset = 0;
    for (const j of jobs) {
      all.set(j.inputs[i]! as ArrayLike<number>, offset);
      offset += j.inputs[i]!.length;
    }
    return all;
  });
}
