/**
 * The server's metrics in the Prometheus text exposition format (version 0.0.4), and the same
 * figures as plain numbers for tests and benchmarks. A handful of series with bounded labels:
 * endpoints are a fixed set (unknown paths count as "other"), so a scanner cannot blow up the
 * number of series.
 */

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  return pairs.length ? `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
}

const num = (v: number) => (v === Infinity ? "+Inf" : String(v));

/** A series' key: its label names and values in order (cheaper than JSON per request). */
function keyOf(labels: Labels): string {
  let key = "";
  for (const name in labels) key += `${name}\u0000${labels[name]}\u0001`;
  return key;
}

interface Series<T> {
  labels: Labels;
  value: T;
}

abstract class Metric<T> {
  protected readonly series = new Map<string, Series<T>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
  ) {}

  protected abstract fresh(): T;

  protected at(labels: Labels): T {
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, value: this.fresh() };
      this.series.set(key, s);
    }
    return s.value;
  }

  protected abstract lines(s: Series<T>): string[];

  render(): string {
    const body = [...this.series.values()].flatMap((s) => this.lines(s));
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...body].join("\n");
  }
}

export class Counter extends Metric<{ v: number }> {
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  protected fresh() {
    return { v: 0 };
  }
  inc(labels: Labels = {}, by = 1): void {
    this.at(labels).v += by;
  }
  get(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.value.v ?? 0;
  }
  entries(): [Labels, number][] {
    return [...this.series.values()].map((s) => [s.labels, s.value.v]);
  }
  protected lines(s: Series<{ v: number }>): string[] {
    return [`${this.name}${labelText(s.labels)} ${num(s.value.v)}`];
  }
}

export class Gauge extends Metric<{ v: number }> {
  constructor(name: string, help: string) {
    super(name, help, "gauge");
    this.set(0);
  }
  protected fresh() {
    return { v: 0 };
  }
  set(v: number, labels: Labels = {}): void {
    this.at(labels).v = v;
  }
  add(by: number, labels: Labels = {}): void {
    this.at(labels).v += by;
  }
  get(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.value.v ?? 0;
  }
  protected lines(s: Series<{ v: number }>): string[] {
    return [`${this.name}${labelText(s.labels)} ${num(s.value.v)}`];
  }
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramValue> {
  constructor(
    name: string,
    help: string,
    readonly buckets: number[],
  ) {
    super(name, help, "histogram");
  }
  protected fresh(): HistogramValue {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  /** Records `v`, `times` times over. */
  observe(v: number, labels: Labels = {}, times = 1): void {
    const h = this.at(labels);
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) h.counts[i]! += times;
    h.sum += v * times;
    h.count += times;
  }
  protected lines(s: Series<HistogramValue>): string[] {
    const h = s.value;
    return [
      ...this.buckets.map((b, i) => `${this.name}_bucket${labelText(s.labels, ["le", num(b)])} ${h.counts[i]}`),
      `${this.name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${h.count}`,
      `${this.name}_sum${labelText(s.labels)} ${h.sum}`,
      `${this.name}_count${labelText(s.labels)} ${h.count}`,
    ];
  }
}

/** The endpoints requests are counted by. */
export type Endpoint = "server_metadata" | "health_live" | "health_ready" | "model_metadata" | "model_ready" | "infer" | "metrics" | "other";

export interface MetricsSnapshot {
  /** Requests answered, by endpoint and status code. */
  requests: { endpoint: Endpoint; code: number; count: number }[];
  inFlight: number;
  queuedRequests: number;
  queuedSamples: number;
  batches: number;
  samples: number;
  failedBatches: number;
  /** How many onnxruntime runs had each batch size. */
  batchSizes: Record<number, number>;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function batchBuckets(maxBatch: number): number[] {
  const b: number[] = [];
  for (let n = 1; n < maxBatch; n *= 2) b.push(n);
  return [...b, maxBatch];
}

export class ServerMetrics {
  readonly requests = new Counter("meanet_http_requests_total", "HTTP requests answered, by endpoint and status code.");
  readonly latency = new Histogram("meanet_http_request_duration_seconds", "Time from a request's arrival to the end of its response, by endpoint.", LATENCY_BUCKETS);
  readonly inFlight = new Gauge("meanet_http_requests_in_flight", "Requests received and not yet answered.");
  readonly queueRequests = new Gauge("meanet_inference_queue_requests", "Inference requests waiting for a batch.");
  readonly queueSamples = new Gauge("meanet_inference_queue_samples", "Samples waiting for a batch.");
  readonly batchSize: Histogram;
  readonly batchesBySize = new Counter("meanet_inference_batches_by_size_total", "onnxruntime runs, by exact batch size.");
  readonly runSeconds = new Histogram("meanet_inference_run_duration_seconds", "Time of one onnxruntime run of a batch.", LATENCY_BUCKETS);
  readonly queueSeconds = new Histogram("meanet_inference_queue_duration_seconds", "Per inference request: time from joining the queue to the start of its batch's onnxruntime run.", LATENCY_BUCKETS);
  readonly requestRunSeconds = new Histogram("meanet_inference_request_run_duration_seconds", "Per inference request: time of the onnxruntime run of its batch.", LATENCY_BUCKETS);
  readonly failures = new Counter("meanet_inference_failed_batches_total", "onnxruntime runs that failed.");
  readonly largeBodiesWaiting = new Gauge("meanet_http_large_bodies_waiting", "Large inference requests (bodies longer than a single-sample request can be) waiting for a turn, their bodies not read yet.");
  readonly largeBodiesReading = new Gauge("meanet_http_large_bodies_reading", "Large inference requests whose bodies are being read, or read and waiting to be served.");
  readonly largeBodiesServing = new Gauge("meanet_http_large_bodies_serving", "Large inference requests being parsed, run or answered.");

  constructor(maxBatch: number) {
    this.batchSize = new Histogram("meanet_inference_batch_size", "Samples per onnxruntime run.", batchBuckets(maxBatch));
  }

  request(endpoint: Endpoint, code: number, seconds: number): void {
    this.requests.inc({ endpoint, code: String(code) });
    this.latency.observe(seconds, { endpoint });
  }

  batch(samples: number, waits: number[], seconds: number, failed: boolean): void {
    this.batchSize.observe(samples);
    this.batchesBySize.inc({ size: String(samples) });
    this.runSeconds.observe(seconds);
    for (const w of waits) this.queueSeconds.observe(w);
    this.requestRunSeconds.observe(seconds, {}, waits.length);
    if (failed) this.failures.inc();
  }

  render(): string {
    const all = [this.requests, this.latency, this.inFlight, this.queueRequests, this.queueSamples, this.batchSize, this.batchesBySize, this.runSeconds, this.queueSeconds, this.requestRunSeconds, this.failures, this.largeBodiesWaiting, this.largeBodiesReading, this.largeBodiesServing];
    return all.map((m) => m.render()).join("\n") + "\n";
  }

  snapshot(): MetricsSnapshot {
    const batchSizes: Record<number, number> = {};
    let batches = 0;
    let samples = 0;
    for (const [labels, count] of this.batchesBySize.entries()) {
      const size = Number(labels.size);
      batchSizes[size] = count;
      batches += count;
      samples += size * count;
    }
    return {
      requests: this.requests.entries().map(([l, count]) => ({ endpoint: l.endpoint as Endpoint, code: Number(l.code), count })),
      inFlight: this.inFlight.get(),
      queuedRequests: this.queueRequests.get(),
      queuedSamples: this.queueSamples.get(),
      batches,
      samples,
      failedBatches: this.failures.get(),
      batchSizes,
    };
  }
}
