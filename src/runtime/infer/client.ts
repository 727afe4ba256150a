/**
 * An Open Inference Protocol (KServe v2) REST client for the cloud model: keep-alive connections,
 * a deadline per attempt (connecting, sending and reading the whole reply), bounded retries with
 * exponential backoff, and a short cool-down after a failed call so a dead cloud costs one
 * failure, not one per input. It speaks to `meanet serve`, NVIDIA Triton and KServe alike.
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

export interface InferInput {
  name: string;
  datatype: "UINT8" | "INT8" | "FP32";
  shape: number[];
  data: Uint8Array | Int8Array | Float32Array;
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

  /** One inference request; rejects with CloudError when the cloud cannot answer in time after the retries. */
  async infer(inputs: InferInput[], outputs: string[]): Promise<Record<string, InferOutput>> {
    this.stats.calls++;
    if (Date.now() < this.downUntil) {
      this.stats.failures++;
      this.stats.fastFailures++;
      throw new CloudError(`cloud ${this.base.origin} failed recently; not retried until the cool-down ends`, true);
    }
    const body = requestBody(inputs, outputs);
    const path = new URL(`v2/models/${encodeURIComponent(this.options.model)}/infer`, this.base);
    let last: CloudError | undefined;
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        await sleep(this.options.backoffMs * 2 ** (attempt - 1));
      }
      try {
        const reply = await this.post(path, body);
        this.downUntil = 0;
        return parseReply(reply, outputs);
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
   * A reply `infer` returned that its caller found unusable (say, outputs of the wrong size):
   * counted as a failed call, like one that got no answer. Returns the error to throw.
   */
  rejectReply(message: string): CloudError {
    this.stats.failures++;
    this.stats.firstFailure ??= message;
    return new CloudError(message, false);
  }

  /**
   * One attempt. Its deadline runs from the request to the last byte of the reply, so a cloud
   * that answers slowly, byte by byte, fails it as one that does not answer at all.
   */
  private post(url: URL, body: string): Promise<string> {
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
      const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
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

function requestBody(inputs: InferInput[], outputs: string[]): string {
  // Typed arrays join without an intermediate array of numbers.
  const tensors = inputs.map((t) => `{"name":${JSON.stringify(t.name)},"shape":[${t.shape.join(",")}],"datatype":"${t.datatype}","data":[${t.data.join(",")}]}`);
  return `{"inputs":[${tensors.join(",")}],"outputs":[${outputs.map((o) => `{"name":${JSON.stringify(o)}}`).join(",")}]}`;
}

function parseReply(text: string, wanted: string[]): Record<string, InferOutput> {
  let reply: { outputs?: { name?: unknown; shape?: unknown; data?: unknown }[] };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch {
    throw new CloudError("cloud reply is not JSON", false);
  }
  const out: Record<string, InferOutput> = {};
  for (const name of wanted) {
    const o = reply.outputs?.find((x) => x.name === name);
    if (!o || !Array.isArray(o.shape) || !Array.isArray(o.data)) throw new CloudError(`cloud reply lacks output ${name}`, false);
    const flat = (o.data as unknown[]).flat(Infinity) as number[];
    out[name] = { shape: o.shape as number[], data: Float32Array.from(flat) };
  }
  return out;
}
