/**
 * An Open Inference Protocol (KServe v2) REST client for the cloud model: keep-alive connections,
 * a deadline per attempt (connecting, sending and reading the whole reply), bounded retries with
 * exponential backoff, and a short cool-down after a failed call so a dead cloud costs one
 * failure, not one per input. Every reply is checked against the outputs the caller expects
 * (datatype, shape, finite values, probabilities that are probabilities) before it is used; one
 * that is not what was asked for is a failed call. It speaks to `meanet serve`, NVIDIA Triton and
 * KServe alike.
 */
import http from "node:http";
import https from "node:https";

export interface CloudOptions {
  /** Base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  model: string;
  token?: string;
  /** Deadline of one attempt: connecting, sending the request and receiving the whole reply. */
  timeoutMs?: number;
  /** Attempts after the first. */
  retries?: number;
  backoffMs?: number;
  /** After a call fails for good, calls fail at once for this long. */
  cooldownMs?: number;
}

export type Datatype = "UINT8" | "INT8" | "FP16" | "FP32";

export interface InferInput {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** FP16 as its 16 bits. */
  data: Uint8Array | Int8Array | Uint16Array | Float32Array;
}

/** An output asked for, and what the reply must hold for it. */
export interface ExpectedOutput {
  name: string;
  datatype: Datatype;
  /** The whole shape, batch first. */
  shape: number[];
  /** Exit probabilities: every value in [0, 1] and every row (along the first axis) summing to 1. */
  probabilities: boolean;
}

export interface InferOutput {
  shape: number[];
  data: Float32Array;
}

export class CloudError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The KServe datatype of a tensor's dtype as the manifest writes it. */
export function protocolDatatype(dtype: string): Datatype {
  return dtype === "uint8" ? "UINT8" : dtype === "int8" ? "INT8" : dtype === "float16" ? "FP16" : "FP32";
}

/** How far a row of probabilities may sum from 1. */
const ROW_SUM_TOLERANCE = 1e-3;

export class CloudClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly options: Required<Omit<CloudOptions, "token">> & { token: string | undefined };
  private downUntil = 0;
  /**
   * Calls; calls that failed, whether after their attempts or at once during the cool-down
   * (`fastFailures` of them); attempts retried; and why the first failed call failed.
   */
  readonly stats: { calls: number; failures: number; fastFailures: number; retries: number; firstFailure: string | null } = { calls: 0, failures: 0, fastFailures: 0, retries: 0, firstFailure: null };

  constructor(o: CloudOptions) {
    this.base = new URL(o.url.endsWith("/") ? o.url : `${o.url}/`);
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:") throw new CloudError(`cloud URL ${o.url}: only http and https are supported`, false);
    this.options = { timeoutMs: 5000, retries: 2, backoffMs: 50, cooldownMs: 1000, ...o, token: o.token };
    const Agent = this.base.protocol === "https:" ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 16 });
  }

  /**
   * One inference request; rejects with CloudError when the cloud gives no complete answer in
   * time after the retries, or answers with a reply that is not what `outputs` expects.
   */
  async infer(inputs: InferInput[], outputs: ExpectedOutput[]): Promise<Record<string, InferOutput>> {
    this.stats.calls++;
    if (Date.now() < this.downUntil) {
      this.stats.failures++;
      this.stats.fastFailures++;
      throw new CloudError(`cloud ${this.base.origin} failed recently; not retried until the cool-down ends`, true);
    }
    const body = requestBody(inputs, outputs.map((o) => o.name));
    const path = new URL(`v2/models/${encodeURIComponent(this.options.model)}/infer`, this.base);
    let last: CloudError | undefined;
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        await sleep(this.options.backoffMs * 2 ** (attempt - 1));
      }
      try {
        // A reply that is not what was asked for is not retried: the same cloud would answer the same.
        const reply = parseReply(await this.post(path, body), outputs);
        this.downUntil = 0;
        return reply;
      } catch (e) {
        last = e instanceof CloudError ? e : new CloudError((e as Error).message, true);
        if (!last.retryable) break;
      }
    }
    this.stats.failures++;
    this.stats.firstFailure ??= last!.message;
    this.downUntil = Date.now() + this.options.cooldownMs;
    throw last!;
  }

  /**
   * One attempt. Its deadline runs from the request to the last byte of the reply, so a cloud
   * that answers slowly, byte by byte, fails it as one that does not answer at all.
   */
  private post(url: URL, { body, headerLength }: { body: Buffer; headerLength: number }): Promise<string> {
    const mod = url.protocol === "https:" ? https : http;
    const ms = this.options.timeoutMs;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (e: CloudError | null, text = "") => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (e) reject(e);
        else resolve(text);
      };
      const headers: Record<string, string | number> = { "content-type": "application/octet-stream", "content-length": body.byteLength, "inference-header-content-length": headerLength };
      if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
      const req = mod.request(url, { method: "POST", agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => settle(new CloudError(`cloud reply broken: ${e.message}`, true)));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status === 200) return settle(null, text);
          let why = text.slice(0, 200);
          try {
            why = (JSON.parse(text) as { error?: string }).error ?? why;
          } catch {
            // not JSON: keep the text
          }
          settle(new CloudError(`cloud answered ${status}: ${why}`, status >= 500 || status === 429));
        });
      });
      const deadline = setTimeout(() => {
        settle(new CloudError(`no complete answer from ${url.origin} within ${ms} ms`, true));
        // The socket goes with it: a half-read reply cannot be reused.
        req.destroy();
      }, ms);
      req.on("error", (e) => settle(e instanceof CloudError ? e : new CloudError(`cannot reach ${url.origin}: ${e.message}`, true)));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * A request in the binary tensor extension: the JSON header names each input with its
 * `binary_data_size`, and the inputs' bytes follow it in order, little-endian, so a tensor costs
 * on the wire what it takes in memory (a uint8 feature map one byte per value, a float16 one two).
 * Outputs come back in JSON.
 */
export function requestBody(inputs: InferInput[], outputs: string[]): { body: Buffer; headerLength: number } {
  const tensors = inputs.map((t) => `{"name":${JSON.stringify(t.name)},"shape":[${t.shape.join(",")}],"datatype":"${t.datatype}","parameters":{"binary_data_size":${t.data.byteLength}}}`);
  const header = Buffer.from(`{"inputs":[${tensors.join(",")}],"outputs":[${outputs.map((o) => `{"name":${JSON.stringify(o)}}`).join(",")}]}`);
  // Typed arrays are little-endian on every platform Node runs on.
  const data = inputs.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return { body: Buffer.concat([header, ...data]), headerLength: header.byteLength };
}

/** The outputs of a 200 reply, each checked against what was asked for; a CloudError naming the first problem otherwise. */
function parseReply(text: string, wanted: ExpectedOutput[]): Record<string, InferOutput> {
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new CloudError("cloud reply is not JSON", false);
  }
  const outputs = (reply as { outputs?: unknown } | null)?.outputs;
  if (!Array.isArray(outputs)) throw new CloudError("cloud reply has no list of outputs", false);
  const out: Record<string, InferOutput> = {};
  for (const w of wanted) {
    const o = (outputs as unknown[]).find((x): x is Record<string, unknown> => typeof x === "object" && x !== null && (x as { name?: unknown }).name === w.name);
    if (!o) throw new CloudError(`cloud reply lacks output ${w.name}`, false);
    out[w.name] = { shape: [...w.shape], data: checkedOutput(o, w) };
  }
  return out;
}

/** A short rendering of a value from a reply, for a message. */
function shown(v: unknown): string {
  if (v === undefined) return "(none)";
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * One output's values, checked in order: datatype, shape, the number of values, each value (a
 * finite number of the datatype; a probability in [0, 1]), then each row's sum for probabilities.
 */
function checkedOutput(o: Record<string, unknown>, w: ExpectedOutput): Float32Array {
  const fail = (problem: string) => new CloudError(`cloud output ${w.name} ${problem}`, false);
  if (o.datatype !== w.datatype) throw fail(`has datatype ${shown(o.datatype)}, not ${w.datatype}`);
  const shape = o.shape;
  if (!Array.isArray(shape) || shape.length !== w.shape.length || shape.some((d, i) => d !== w.shape[i])) throw fail(`has shape ${shown(shape)}, not ${JSON.stringify(w.shape)}`);
  if (!Array.isArray(o.data)) throw fail("has no data array");
  // The protocol allows the data flat or nested by the shape; either way it is read row-major.
  const flat = (o.data as unknown[]).flat(Infinity);
  const size = w.shape.reduce((a, b) => a * b, 1);
  if (flat.length !== size) throw fail(`has ${flat.length} values, not the ${size} of shape ${JSON.stringify(w.shape)}`);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = flat[i];
    if (typeof v !== "number") throw fail(`holds a non-number at index ${i}: ${shown(v)}`);
    const problem = valueProblem(v, w.datatype);
    if (problem) throw fail(`holds ${v} at index ${i}, ${problem}`);
    if (w.probabilities && !(v >= 0 && v <= 1)) throw fail(`holds ${v} at index ${i}, not a probability in [0, 1]`);
    data[i] = v;
  }
  const rows = w.shape[0] ?? 1;
  if (w.probabilities && rows > 0) {
    const k = size / rows;
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = r * k; j < (r + 1) * k; j++) sum += data[j]!;
      if (!(Math.abs(sum - 1) <= ROW_SUM_TOLERANCE)) throw fail(`row ${r} sums to ${Number(sum.toPrecision(6))}, not 1`);
    }
  }
  return data;
}

/** Why a number cannot be a value of the datatype, or undefined. */
function valueProblem(v: number, datatype: Datatype): string | undefined {
  if (datatype === "FP32") return Number.isFinite(Math.fround(v)) ? undefined : "beyond the range of FP32";
  if (datatype === "FP16") return Math.abs(v) <= 65504 ? undefined : "beyond the range of FP16";
  const [min, max] = datatype === "UINT8" ? [0, 255] : [-128, 127];
  return Number.isInteger(v) && v >= min && v <= max ? undefined : `not a ${datatype} value`;
}
