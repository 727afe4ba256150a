/**
 * `meanet serve` against the Open Inference Protocol (KServe v2) REST API, with plain HTTP
 * requests written from the spec: metadata and health, inference equal to onnxruntime run
 * in-process on the same seeded random images, every kind of bad request (right status, an
 * `{"error"}` naming the problem, the server still ready afterwards), the body limit derived from
 * the model and the turns of large bodies, the request log's redacted query strings, the bearer
 * token, dynamic batching, and, with the real binary as a child process, a graceful SIGTERM with
 * requests in flight and the token file reread on SIGHUP.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/runtime/serve/index.js";
import { fromHalfBits } from "../src/format/quantize.js";
import { mulberry32 } from "../src/runtime/train/data/rng.js";
import { autoCutSpec } from "./helpers/cut.js";
import { ortHalfCast } from "./helpers/half.js";
import { pollUntil } from "./helpers/wait.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-serve-"));
const dir = join(tmp, "fashion_mnist");
const MODEL = "fashion_mnist";
const PIXELS = 28 * 28;
const TOKEN = "s3cret-token";

/** A bound on one command, far above what any takes here: a server that should have refused to start does not hang the test. */
const CLI_LIMIT_MS = 120_000;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8", timeout: CLI_LIMIT_MS });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function seededImages(seed: number, n: number): Uint8Array {
  let a = seed >>> 0;
  const v = new Uint8Array(n * PIXELS);
  for (let i = 0; i < v.length; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    v[i] = a >>> 24;
  }
  return v;
}

/** Row-major nesting of flat data into the shape, as the protocol allows. */
function nest(flat: ArrayLike<number>, shape: number[]): unknown {
  if (shape.length === 1) return Array.from(flat);
  const step = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0]! }, (_, i) => nest(Array.prototype.slice.call(flat, i * step, (i + 1) * step) as number[], shape.slice(1)));
}

function inferBody(images: Uint8Array, extra: Record<string, unknown> = {}, nested = false) {
  const n = images.length / PIXELS;
  const shape = [n, 28, 28, 1];
  return { ...extra, inputs: [{ name: "image", shape, datatype: "UINT8", data: nested ? nest(images, shape) : Array.from(images) }] };
}

interface Reply {
  status: number;
  headers: Headers;
  body: { error?: string } & Record<string, unknown>;
}

async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? (JSON.parse(text) as Reply["body"]) : {} };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  call(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

let session: ort.InferenceSession;
/** onnxruntime in-process on the same file: what the server must answer. */
async function reference(images: Uint8Array): Promise<Float32Array> {
  const n = images.length / PIXELS;
  const out = await session.run({ image: new ort.Tensor("uint8", images, [n, 28, 28, 1]) });
  return out.probs_cloud!.data as Float32Array;
}

let open: RunningServer;
let secured: RunningServer;
const logLines: string[] = [];

beforeAll(async () => {
  const c = cli("compile", "examples/fashion-mnist.meanet", "-o", tmp);
  expect(c.status, c.err).toBe(0);
  const e = cli("export", dir, "--random-weights", "--seed", "1");
  expect(e.status, e.err).toBe(0);
  session = await ort.InferenceSession.create(join(dir, "cloud", "model.onnx"));
  open = await startServer({ buildDir: dir, host: "127.0.0.1", port: 0, maxBatch: 16, maxDelayMs: 2, maxBodyBytes: 256 * 1024, log: (l) => logLines.push(l) });
  secured = await startServer({ buildDir: dir, port: 0, token: TOKEN, maxBatch: 16 });
});

afterAll(async () => {
  await open?.close();
  await secured?.close();
  await session?.release();
  rmSync(tmp, { recursive: true, force: true });
});

async function expectReady(server: RunningServer): Promise<void> {
  const r = await fetch(`${server.url}/v2/health/ready`);
  expect(r.status).toBe(200);
}

describe("metadata and health", () => {
  it("answers live, ready, server metadata and model metadata as the protocol describes", async () => {
    expect((await fetch(`${open.url}/v2/health/live`)).status).toBe(200);
    await expectReady(open);
    const server = await call(`${open.url}/v2`);
    expect(server.status).toBe(200);
    expect(server.body).toMatchObject({ name: "meanet", extensions: expect.arrayContaining(["binary_tensor_data"]) });
    expect(typeof server.body.version).toBe("string");
    const model = await call(`${open.url}/v2/models/${MODEL}`);
    expect(model.status).toBe(200);
    expect(model.headers.get("content-type")).toMatch(/^application\/json/);
    expect(model.body).toEqual({
      name: MODEL,
      versions: ["1"],
      platform: "onnxruntime_onnx",
      inputs: [{ name: "image", datatype: "UINT8", shape: [-1, 28, 28, 1] }],
      outputs: [{ name: "probs_cloud", datatype: "FP32", shape: [-1, 10] }],
    });
    expect((await call(`${open.url}/v2/models/${MODEL}/versions/1`)).body).toEqual(model.body);
    expect((await fetch(`${open.url}/v2/models/${MODEL}/ready`)).status).toBe(200);
    expect((await fetch(`${open.url}/v2/models/${MODEL}/versions/1/ready`)).status).toBe(200);
    expect(open.model.name).toBe(MODEL);
  });
});

describe("inference", () => {
  it("returns onnxruntime's probabilities for fresh random images, from flat data", async () => {
    const images = seededImages(101, 3);
    const r = await post(`${open.url}/v2/models/${MODEL}/infer`, inferBody(images, { id: "req-1" }));
    expect(r.status, r.body.error).toBe(200);
    expect(r.body).toMatchObject({ model_name: MODEL, model_version: "1", id: "req-1" });
    const [out] = r.body.outputs as { name: string; datatype: string; shape: number[]; data: number[] }[];
    expect(out).toMatchObject({ name: "probs_cloud", datatype: "FP32", shape: [3, 10] });
    expect(maxDiff(out!.data, await reference(images))).toBeLessThan(1e-6);
    // Random weights still give a distribution over the labels, not zeros.
    expect(out!.data.slice(0, 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it("accepts nested (row-major) data and gives the same answer; names the outputs asked for; makes up an id", async () => {
    const images = seededImages(202, 2);
    const flat = await post(`${open.url}/v2/models/${MODEL}/infer`, inferBody(images));
    const nested = await post(`${open.url}/v2/models/${MODEL}/infer`, inferBody(images, { outputs: [{ name: "probs_cloud" }] }, true));
    expect(nested.status, nested.body.error).toBe(200);
    const data = (r: Reply) => (r.body.outputs as { data: number[] }[])[0]!.data;
    expect(data(nested)).toEqual(data(flat));
    expect(maxDiff(data(nested), await reference(images))).toBeLessThan(1e-6);
    expect(typeof flat.body.id).toBe("string");
    expect(flat.body.id).not.toBe(nested.body.id);
  });

  it("speaks the binary tensor data extension both ways", async () => {
    const images = seededImages(303, 4);
    const header = Buffer.from(
      JSON.stringify({ inputs: [{ name: "image", shape: [4, 28, 28, 1], datatype: "UINT8", parameters: { binary_data_size: images.length } }], outputs: [{ name: "probs_cloud", parameters: { binary_data: true } }] }),
    );
    const r = await fetch(`${open.url}/v2/models/${MODEL}/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
      body: Buffer.concat([header, images]),
    });
    expect(r.status).toBe(200);
    const body = Buffer.from(await r.arrayBuffer());
    const jsonLength = Number(r.headers.get("inference-header-content-length"));
    const json = JSON.parse(body.subarray(0, jsonLength).toString()) as { outputs: { shape: number[]; parameters: { binary_data_size: number } }[] };
    expect(json.outputs[0]).toMatchObject({ shape: [4, 10], parameters: { binary_data_size: 160 } });
    const raw = body.subarray(jsonLength);
    const probs = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    expect(maxDiff(probs, await reference(images))).toBeLessThan(1e-6);
  });
});

describe("bad requests", () => {
  const image = Array.from(seededImages(404, 1));
  const input = (over: Record<string, unknown>) => ({ inputs: [{ name: "image", shape: [1, 28, 28, 1], datatype: "UINT8", data: image, ...over }] });
  const cases: [string, string, unknown, number, RegExp][] = [
    ["malformed JSON", MODEL, '{"inputs": [', 400, /malformed JSON/],
    ["a body that is not an object", MODEL, "[1, 2]", 400, /JSON object/],
    ["no inputs", MODEL, { inputs: [] }, 400, /`inputs` must be a non-empty array/],
    ["an unknown model", "mnist", input({}), 404, /unknown model `mnist`.*fashion_mnist/],
    ["an unknown input", MODEL, input({ name: "pixels" }), 400, /unknown input `pixels`.*image/],
    ["a duplicated input", MODEL, { inputs: [input({}).inputs[0], input({}).inputs[0]] }, 400, /input `image` is given twice/],
    ["the wrong datatype", MODEL, input({ datatype: "FP32" }), 400, /datatype "FP32".*expects UINT8/],
    ["the wrong rank", MODEL, input({ shape: [1, 28, 28] }), 400, /shape \[1, 28, 28\].*expects \[N, 28, 28, 1\]/],
    ["a wrong non-batch dimension", MODEL, input({ shape: [1, 28, 27, 1] }), 400, /shape \[1, 28, 27, 1\]/],
    ["too few values for the shape", MODEL, input({ data: image.slice(1) }), 400, /783 values but shape \[1, 28, 28, 1\] needs 784/],
    ["batch size 0", MODEL, input({ shape: [0, 28, 28, 1], data: [] }), 400, /batch size 0/],
    ["a batch above --max-batch", MODEL, input({ shape: [17, 28, 28, 1], data: new Array(17 * PIXELS).fill(0) }), 400, /batch size 17, above this server's maximum of 16/],
    ["a value above UINT8", MODEL, input({ data: [256, ...image.slice(1)] }), 400, /element 0 = 256 is out of range for UINT8 \(0 to 255\)/],
    ["a negative UINT8", MODEL, input({ data: [...image.slice(1), -1] }), 400, /element 783 = -1 is out of range/],
    ["a fraction for UINT8", MODEL, input({ data: [1.5, ...image.slice(1)] }), 400, /element 0 = 1.5 is not an integer/],
    ["a string for a number", MODEL, input({ data: ["7", ...image.slice(1)] }), 400, /element 0 is "7", not a number/],
    ["nested data off the shape", MODEL, input({ data: nest(image, [1, 28, 28]) }), 400, /nested data does not match shape \[1, 28, 28, 1\]/],
    ["an unknown output", MODEL, { ...input({}), outputs: [{ name: "logits" }] }, 400, /unknown output `logits`.*probs_cloud/],
    ["a non-string id", MODEL, { ...input({}), id: 7 }, 400, /`id` must be a string/],
  ];
  it.each(cases)("%s → the right status and an error naming the problem; still ready", async (_what, model, body, status, message) => {
    const r = await post(`${open.url}/v2/models/${model}/infer`, body);
    expect(r.status).toBe(status);
    expect(r.body.error).toMatch(message);
    await expectReady(open);
  });

  it("answers a wrong method with 405 and Allow, an unknown path or version with 404", async () => {
    const del = await call(`${open.url}/v2/models/${MODEL}`, { method: "DELETE" });
    expect(del.status).toBe(405);
    expect(del.headers.get("allow")).toBe("GET, HEAD");
    expect(del.body.error).toMatch(/DELETE is not allowed/);
    const get = await call(`${open.url}/v2/models/${MODEL}/infer`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const unknown = await call(`${open.url}/v2/modelz`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no endpoint at \/v2\/modelz/);
    const version = await call(`${open.url}/v2/models/${MODEL}/versions/7`);
    expect(version.status).toBe(404);
    expect(version.body.error).toMatch(/no version `7`/);
    await expectReady(open);
  });

  /** Raw node:http, so the body can be declared or chunked and the 413 read while the body is still going out. */
  function sendRaw(path: string, size: number, chunked: boolean, expectContinue = false): Promise<{ status: number; error: string }> {
    const url = new URL(open.url);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = chunked ? {} : { "content-length": String(size) };
      if (expectContinue) headers.expect = "100-continue";
      const req = httpRequest({ host: url.hostname, port: url.port, path, method: "POST", headers, agent: false }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, error: (JSON.parse(text) as { error: string }).error }));
      });
      req.on("error", reject);
      if (expectContinue) return void req.end();
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          const n = Math.min(64 * 1024, size - sent);
          sent += n;
          if (!req.write(Buffer.alloc(n, 0x20))) return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
  }

  it("answers a body over --max-body-bytes with 413, declared, chunked or announced with Expect: 100-continue", async () => {
    const path = `/v2/models/${MODEL}/infer`;
    const declared = await sendRaw(path, 1024 * 1024, false);
    expect(declared.status).toBe(413);
    expect(declared.error).toMatch(/exceeds this server's limit of 262144 bytes/);
    const chunked = await sendRaw(path, 1024 * 1024, true);
    expect(chunked.status).toBe(413);
    expect((await sendRaw(path, 1024 ** 3, false, true)).status).toBe(413);
    await expectReady(open);
  });

  it("logs one line per request with the method, path, status, latency and, for inference, the batch", () => {
    expect(logLines.some((l) => /^\S+ POST \/v2\/models\/fashion_mnist\/infer 200 \d+\.\dms samples=3 batch=\d+$/.test(l))).toBe(true);
    expect(logLines.some((l) => / DELETE \/v2\/models\/fashion_mnist 405 /.test(l))).toBe(true);
  });
});

describe("the request log", () => {
  it("keeps the names of a query's parameters but not their values, so a token sent in a query is not logged", async () => {
    expect((await call(`${open.url}/v2/models/${MODEL}?token=${TOKEN}&x=1`)).status).toBe(200);
    const line = await pollUntil("the log line of GET /v2/models/fashion_mnist?…", () => logLines.find((l) => l.includes(` GET /v2/models/${MODEL}?`)), { state: () => JSON.stringify(logLines.slice(-5)) });
    expect(line).toMatch(new RegExp(`^\\S+ GET /v2/models/${MODEL}\\?token=<redacted>&x=<redacted> 200 `));
    expect(logLines.filter((l) => l.includes(TOKEN))).toEqual([]);
  });
});

/**
 * A POST on a socket of its own: headers announcing all of `body`, then its first `first` bytes;
 * `rest()` sends the others. `reply` is what the server wrote, once a whole response has come or
 * the server closed the connection, and fails if neither happens within `SERVER_REPLY_LIMIT_MS`.
 */
function partialPost(url: string, body: Buffer, first: number): { reply: Promise<string>; answered(): boolean; rest(): void } {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  socket.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
  if (first > 0) socket.write(body.subarray(0, first));
  let text = "";
  const complete = () => {
    const end = text.indexOf("\r\n\r\n");
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
    return end >= 0 && length !== null && Buffer.byteLength(text) >= end + 4 + Number(length[1]);
  };
  const reply = new Promise<string>((resolve, reject) => {
    const limit = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no whole answer within ${SERVER_REPLY_LIMIT_MS} ms; the server wrote: ${JSON.stringify(text.slice(0, 300))}`));
    }, SERVER_REPLY_LIMIT_MS);
    const done = () => {
      clearTimeout(limit);
      socket.destroy();
      resolve(text);
    };
    socket.on("data", (d: Buffer) => {
      text += d.toString();
      if (complete()) done();
    });
    socket.on("close", done);
    socket.on("error", (e) => (text ? done() : reject(e)));
  });
  return { reply, answered: () => text.length > 0, rest: () => void socket.write(body.subarray(first)) };
}
/** A bound on waiting for an answer the server owes, far above any it takes: not a measure of its speed. */
const SERVER_REPLY_LIMIT_MS = 20_000;

describe("the body limit from the model, and large bodies", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ buildDir: dir, port: 0, largeBodies: { reading: 2, serving: 1, waiting: 1 } });
  });
  afterAll(() => server?.close());
  const infer = () => `${server.url}/v2/models/${MODEL}/infer`;
  /** The longest request of 64 images: nested, every pixel 255, with Python's ", " between items. */
  const longest = () => Buffer.from(JSON.stringify(inferBody(new Uint8Array(64 * PIXELS).fill(255), {}, true)).replace(/,/g, ", "));
  const gauges = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^meanet_http_large_bodies_${name} (\\d+)$`, "m").exec(text)?.[1]);
    return { waiting: value("waiting"), reading: value("reading"), serving: value("serving") };
  };
  const untilGauges = (want: { waiting: number; reading: number; serving: number }) => {
    let seen = {};
    return pollUntil(
      `large-body gauges ${JSON.stringify(want)} in /metrics`,
      async () => {
        seen = await gauges();
        return JSON.stringify(seen) === JSON.stringify(want) ? true : undefined;
      },
      { state: () => JSON.stringify(seen) },
    );
  };

  it("is twice the longest request of --max-batch samples plus 16 KiB (934,408 bytes here); a longer Content-Length is a 413 before any of the body is sent", async () => {
    // Headers alone: the answer comes without a byte of the body.
    const reply = await partialPost(server.url, Buffer.alloc(934_409), 0).reply;
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply).toContain("request body of 934409 bytes exceeds this server's limit of 934408 bytes (--max-body-bytes)");
    expect(server.maxBodyBytes).toBe(934_408);
    // The longest request a client sends for 64 images is served.
    const body = longest();
    expect(body.length).toBeLessThan(server.maxBodyBytes / 2);
    const r = await post(infer(), body.toString());
    expect(r.status, r.body.error).toBe(200);
    expect((r.body.outputs as { shape: number[] }[])[0]!.shape).toEqual([64, 10]);
    await expectReady(server);
  });

  it("reads large bodies in turns and serves one at a time, refuses one more with 503, and answers small requests meanwhile", async () => {
    const big = longest();
    expect(big.length).toBeGreaterThan(64 * 1024);
    // Two uploads stop halfway: they hold both turns to be read.
    const stalled = [0, 1].map(() => partialPost(server.url, big, big.length >> 1));
    await untilGauges({ waiting: 0, reading: 2, serving: 0 });
    // A third, whole, waits unread; a fourth finds the queue full.
    const queued = partialPost(server.url, big, big.length);
    await untilGauges({ waiting: 1, reading: 2, serving: 0 });
    const refused = await partialPost(server.url, big, 0).reply;
    expect(refused).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(refused).toContain("the server is busy with large requests (2 being read, 1 waiting)");
    // Small requests go straight on.
    const small = await Promise.all([0, 1, 2, 3, 4].map((i) => post(infer(), inferBody(seededImages(3000 + i, 1)))));
    for (const r of small) expect(r.status, r.body.error).toBe(200);
    expect([queued, ...stalled].map((p) => p.answered())).toEqual([false, false, false]);
    expect(await gauges()).toEqual({ waiting: 1, reading: 2, serving: 0 });
    for (const s of stalled) s.rest();
    for (const reply of await Promise.all([...stalled, queued].map((p) => p.reply))) {
      expect(reply).toMatch(/^HTTP\/1\.1 200 /);
      expect(reply).toContain('"shape":[64,10]');
    }
    await untilGauges({ waiting: 0, reading: 0, serving: 0 });
    expect(server.largeBodyBytes).toBe(64 * 1024);
    expect(server.metrics.render()).toMatch(/meanet_http_requests_total\{endpoint="infer",code="503"\} 1\n/);
  });
});

describe("bodies that do not arrive", () => {
  let slow: RunningServer;
  const lines: string[] = [];
  beforeAll(async () => {
    slow = await startServer({ buildDir: dir, port: 0, bodyTimeoutMs: 300, log: (l) => lines.push(l) });
  });
  afterAll(() => slow?.close());

  /**
   * Headers announcing `declared` bytes, then `sent` bytes of body; resolves with what the server wrote
   * before closing. Unless the client hangs up itself after `hangUpAfterMs`, it waits for the server to
   * close the connection, and fails if the server has not within `SERVER_CLOSE_LIMIT_MS`.
   */
  function upload(declared: number, sent: number, hangUpAfterMs?: number): Promise<string> {
    const url = new URL(slow.url);
    return new Promise((resolve, reject) => {
      let limit: NodeJS.Timeout | undefined;
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${declared}\r\n\r\n`);
        socket.write(Buffer.alloc(sent, 0x20));
        if (hangUpAfterMs !== undefined) setTimeout(() => socket.destroy(), hangUpAfterMs);
        else
          limit = setTimeout(() => {
            socket.destroy();
            reject(new Error(`the server did not close the connection within ${SERVER_CLOSE_LIMIT_MS} ms of an incomplete body; it wrote: ${JSON.stringify(text)}`));
          }, SERVER_CLOSE_LIMIT_MS);
      });
      let text = "";
      socket.on("data", (d: Buffer) => (text += d.toString()));
      socket.on("close", () => {
        clearTimeout(limit);
        resolve(text);
      });
      socket.on("error", reject);
    });
  }
  /** A bound on waiting for the server, far above its 300 ms body timeout: not a measure of its speed. */
  const SERVER_CLOSE_LIMIT_MS = 20_000;

  const logged = (pattern: RegExp) =>
    pollUntil(`a request log line matching ${pattern}`, () => lines.find((l) => pattern.test(l)), { state: () => JSON.stringify(lines) });

  it("a body that does not arrive within --body-timeout-ms is a 408 and the connection is closed", async () => {
    const reply = await upload(1000, 10);
    // The server cut the request with its own body timeout: its answer, its log and its metrics say so.
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(reply).toMatch(/connection: close/i);
    expect(reply).toContain('"error":"the request body did not arrive within 300 ms (--body-timeout-ms); 10 bytes came"');
    expect(await logged(/ POST \/v2\/models\/fashion_mnist\/infer 408 /)).toBeDefined();
    expect(slow.metrics.render()).toMatch(/meanet_http_requests_total\{endpoint="infer",code="408"\} 1\n/);
    await expectReady(slow);
  });

  it("an upload the client abandons is logged and counted as 499, not as a 200", async () => {
    const reply = await upload(1000, 10, 50);
    expect(reply).toBe("");
    const line = await logged(/ POST \/v2\/models\/fashion_mnist\/infer 499 /);
    expect(line).toMatch(/ 499 \(client closed the connection before the answer\) /);
    expect(lines.some((l) => / POST \/v2\/models\/fashion_mnist\/infer 200 /.test(l))).toBe(false);
    expect(slow.metrics.render()).toMatch(/meanet_http_requests_total\{endpoint="infer",code="499"\} 1/);
    await expectReady(slow);
  });
});

describe("bearer token", () => {
  const infer = () => `${secured.url}/v2/models/${MODEL}/infer`;
  const body = inferBody(seededImages(505, 1));

  it("refuses requests without the right token with 401 and WWW-Authenticate, and serves those with it", async () => {
    const none = await post(infer(), body);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(none.body.error).toMatch(/missing bearer token/);
    const wrong = await post(infer(), body, { authorization: `Bearer ${TOKEN}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatch(/invalid bearer token/);
    expect((await post(infer(), body, { authorization: "Bearer short" })).status).toBe(401);
    expect((await post(infer(), body, { authorization: `Basic ${TOKEN}` })).status).toBe(401);
    expect((await call(`${secured.url}/v2/models/${MODEL}`)).status).toBe(401);
    expect((await call(`${secured.url}/metrics`)).status).toBe(401);
    const ok = await post(infer(), body, { authorization: `Bearer ${TOKEN}` });
    expect(ok.status, ok.body.error).toBe(200);
    // Probes need no token.
    expect((await fetch(`${secured.url}/v2/health/live`)).status).toBe(200);
    await expectReady(secured);
  });
});

describe("dynamic batching", () => {
  it("runs concurrent requests as batches larger than one, each answer equal to its own in-process result", async () => {
    const server = await startServer({ buildDir: dir, port: 0, maxBatch: 16, maxDelayMs: 25 });
    try {
      const count = 40;
      const images = Array.from({ length: count }, (_, i) => seededImages(1000 + i, 1));
      const replies = await Promise.all(images.map((x, i) => post(`${server.url}/v2/models/${MODEL}/infer`, inferBody(x, { id: `r${i}` }))));
      for (const [i, r] of replies.entries()) {
        expect(r.status, r.body.error).toBe(200);
        expect(r.body.id).toBe(`r${i}`);
        expect(maxDiff((r.body.outputs as { data: number[] }[])[0]!.data, await reference(images[i]!))).toBeLessThan(1e-5);
      }
      const m = server.metrics.snapshot();
      expect(m.samples).toBe(count);
      expect(Math.max(...Object.keys(m.batchSizes).map(Number))).toBeGreaterThan(1);
      expect(Math.max(...Object.keys(m.batchSizes).map(Number))).toBeLessThanOrEqual(16);
      expect(m.batches).toBeLessThan(count);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      for (const name of ["meanet_http_requests_total", "meanet_inference_batch_size", "meanet_http_request_duration_seconds", "meanet_http_requests_in_flight", "meanet_inference_queue_requests"]) {
        expect(text).toContain(`# HELP ${name} `);
        expect(text).toMatch(new RegExp(`# TYPE ${name} (counter|gauge|histogram)`));
      }
      expect(text).toContain(`meanet_http_requests_total{endpoint="infer",code="200"} ${count}`);
      expect(text).toMatch(new RegExp(`meanet_inference_batch_size_sum ${count}\\n`));
      expect(Number(/meanet_inference_batch_size_count (\d+)/.exec(text)![1])).toBe(m.batches);
      // Queue and run time per request: one observation per request, the run's share no larger than the batches' run time summed per request.
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)![1]);
      expect(value("meanet_inference_queue_duration_seconds_count")).toBe(count);
      expect(value("meanet_inference_request_run_duration_seconds_count")).toBe(count);
      expect(value("meanet_inference_queue_duration_seconds_sum")).toBeGreaterThan(0);
      expect(value("meanet_inference_request_run_duration_seconds_sum")).toBeGreaterThanOrEqual(value("meanet_inference_run_duration_seconds_sum"));
      expect(value("meanet_inference_request_run_duration_seconds_sum")).toBeLessThanOrEqual(value("meanet_inference_run_duration_seconds_sum") * 16 + 1e-9);
    } finally {
      await server.close();
    }
  });

});

describe("a model that takes a float16 tensor (the cut an fp16 edge sends)", () => {
  const cutDir = join(tmp, "cut");
  const CUT = "far.c";
  const SHAPE = [8, 8, 2];
  let server: RunningServer;
  let cutSession: ort.InferenceSession;
  const url = () => `${server.url}/v2/models/cut/infer`;

  beforeAll(async () => {
    const spec = join(tmp, "cut.meanet");
    writeFileSync(spec, autoCutSpec("far", "precision: fp16"));
    const c = cli("compile", spec, "-o", tmp);
    expect(c.status, c.err).toBe(0);
    const e = cli("export", cutDir, "--random-weights", "--seed", "3");
    expect(e.status, e.err).toBe(0);
    cutSession = await ort.InferenceSession.create(join(cutDir, "cloud", "model.onnx"));
    server = await startServer({ buildDir: cutDir, port: 0, maxBatch: 16 });
  });
  afterAll(async () => {
    await server?.close();
    await cutSession?.release();
  });

  /** Seeded feature values that are not all halves: JSON sends them as they are, binary data as onnxruntime's Cast rounds them. */
  const features = (seed: number, n: number) => {
    const rng = mulberry32(seed);
    return Float32Array.from({ length: n * 128 }, () => (rng() - 0.3) * 6);
  };
  const probs = (r: Reply) => (r.body.outputs as { name: string; datatype: string; data: number[] }[])[0]!;

  it("takes FP16 as binary data (half bits) and as JSON numbers (rounded to nearest even), answering as onnxruntime does in-process", async () => {
    const n = 3;
    const values = features(51, n);
    const bits = await ortHalfCast(values);
    // Most values are not halves, so JSON numbers must be rounded; none rounds to zero.
    expect(Array.from(bits).filter((b, i) => fromHalfBits(b) !== values[i]).length).toBeGreaterThan(values.length / 2);
    expect(Array.from(bits).every((b) => (b & 0x7fff) !== 0)).toBe(true);
    const meta = await call(`${server.url}/v2/models/cut`);
    expect(meta.body.inputs).toEqual([{ name: CUT, datatype: "FP16", shape: [-1, ...SHAPE] }]);
    const want = (await cutSession.run({ [CUT]: new ort.Tensor("float16", bits, [n, ...SHAPE]) })).probs_far!.data as Float32Array;
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: CUT, shape: [n, ...SHAPE], datatype: "FP16", parameters: { binary_data_size: bits.byteLength } }] }));
    const binary = await call(url(), {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
      body: Buffer.concat([header, Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength)]),
    });
    expect(binary.status, binary.body.error).toBe(200);
    expect(probs(binary)).toMatchObject({ name: "probs_far", datatype: "FP32" });
    expect(maxDiff(probs(binary).data, want)).toBeLessThan(1e-6);
    const json = await post(url(), { inputs: [{ name: CUT, shape: [n, ...SHAPE], datatype: "FP16", data: Array.from(values) }] });
    expect(json.status, json.body.error).toBe(200);
    // The same half bits as onnxruntime's Cast, hence the same answer to the last bit.
    expect(probs(json).data).toEqual(probs(binary).data);
  });

  it("refuses the wrong datatype, a value beyond FP16 and non-finite half bits with 400 naming the input", async () => {
    const input = (over: Record<string, unknown>) => ({ inputs: [{ name: CUT, shape: [1, ...SHAPE], datatype: "FP16", data: Array.from(features(52, 1)), ...over }] });
    const wrong = await post(url(), input({ datatype: "FP32" }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatch(/input `far\.c` has datatype "FP32"; the model expects FP16/);
    const big = await post(url(), input({ data: [70000, ...Array.from(features(52, 1)).slice(1)] }));
    expect(big.status).toBe(400);
    expect(big.body.error).toMatch(/input `far\.c`: element 0 = 70000 is out of range for FP16 \(-65504 to 65504\)/);
    const bits = await ortHalfCast(features(53, 1));
    bits[5] = 0x7c00;
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: CUT, shape: [1, ...SHAPE], datatype: "FP16", parameters: { binary_data_size: bits.byteLength } }] }));
    const inf = await call(url(), {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
      body: Buffer.concat([header, Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength)]),
    });
    expect(inf.status).toBe(400);
    expect(inf.body.error).toMatch(/input `far\.c`: element 5 of the binary data is Infinity, not a finite number/);
    await expectReady(server);
  });
});

describe("inference engines", () => {
  it("leave no empty mat-debug-<pid>.log of onnxruntime's telemetry behind (a session on the main thread)", () => {
    // Each child gets its own empty TMPDIR, which is where the telemetry writes its files.
    const code = `const { openSession } = await import("./dist/runtime/infer/onnx.js"); console.log(process.env.ORT_DISABLE_TELEMETRY); const s = await openSession(${JSON.stringify(join(dir, "cloud", "model.onnx"))}); await s.release();`;
    const session = (env: NodeJS.ProcessEnv) => {
      const tmp = mkdtempSync(join(tmpdir(), "meanet-ort-"));
      try {
        const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", env: { ...process.env, ...env, TMPDIR: tmp } });
        expect(r.status, r.stderr).toBe(0);
        return { setting: r.stdout.trim(), logs: readdirSync(tmp).filter((f) => f.startsWith("mat-debug-")) };
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    };
    const off = session({ ORT_DISABLE_TELEMETRY: undefined });
    expect(off.setting).toBe("1");
    expect(off.logs).toEqual([]);
    // A user's own setting wins. Where onnxruntime's telemetry writes its log (it does on a developer machine, not in
    // every sandbox), this control shows that the check above would see the file.
    const on = session({ ORT_DISABLE_TELEMETRY: "0" });
    expect(on.setting).toBe("0");
    if (on.logs.length === 0) console.warn("onnxruntime wrote no mat-debug log even with telemetry on here; only the setting is checked");
  });

  it("gives the same answers with onnxruntime on the main thread", async () => {
    const server = await startServer({ buildDir: dir, port: 0, inferenceThread: "main" });
    try {
      const images = seededImages(606, 2);
      const r = await post(`${server.url}/v2/models/${MODEL}/infer`, inferBody(images));
      expect(r.status, r.body.error).toBe(200);
      expect(maxDiff((r.body.outputs as { data: number[] }[])[0]!.data, await reference(images))).toBeLessThan(1e-6);
    } finally {
      await server.close();
    }
  });

  it.each(["worker", "main"] as const)("refuses to start on a corrupt model file (%s thread), naming the file", async (thread) => {
    const copy = join(tmp, `corrupt-${thread}`);
    cpSync(dir, copy, { recursive: true });
    writeFileSync(join(copy, "cloud", "model.onnx"), "not an onnx file");
    // The manifest lists the corrupt file's hash, so the file gets as far as onnxruntime.
    const manifestPath = join(copy, "manifest.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    manifest.artifacts.find((a: { path: string }) => a.path === "cloud/model.onnx").sha256 = createHash("sha256").update("not an onnx file").digest("hex");
    writeFileSync(manifestPath, JSON.stringify(manifest));
    await expect(startServer({ buildDir: copy, port: 0, inferenceThread: thread })).rejects.toMatchObject({ code: "MN5005", message: expect.stringMatching(/cannot load ONNX model .*model\.onnx/) });
  });

  it("refuses to start on a model file changed since the export, naming it (the library and the command)", async () => {
    const copy = join(tmp, "tampered");
    cpSync(dir, copy, { recursive: true });
    const file = join(copy, "cloud", "model.onnx");
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    const message = /cloud\/model\.onnx does not match the sha256 in manifest\.json: it changed since the export; run `meanet export .*` again/;
    await expect(startServer({ buildDir: copy, port: 0 })).rejects.toMatchObject({ code: "MN5005", message: expect.stringMatching(message) });
    const r = cli("serve", copy, "--port", "0");
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/^error MN5005: /m);
    expect(r.err).toMatch(message);
    expect(r.out).toBe("");
  });
});

describe("meanet serve, the command", () => {
  it("prints one line once ready, finishes queued requests on SIGTERM, then exits 0", async () => {
    // The longest delay the command takes: the five requests stay queued until SIGTERM flushes them.
    const child = spawn(process.execPath, ["bin/meanet.js", "serve", dir, "--port", "0", "--max-delay-ms", "60000"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on("exit", () => reject(new Error(`serve exited early:\n${err}`)));
    });
    const images = Array.from({ length: 5 }, (_, i) => seededImages(2000 + i, 1));
    const replies = Promise.all(images.map((x) => post(`${url}/v2/models/${MODEL}/infer`, inferBody(x))));
    // Wait until all five are queued behind the delay, then stop the server.
    let metrics = "";
    await pollUntil(
      "five requests queued (meanet_inference_queue_requests 5 in /metrics)",
      async () => {
        metrics = await (await fetch(`${url}/metrics`)).text();
        return /meanet_inference_queue_requests 5\n/.test(metrics) ? true : undefined;
      },
      { state: () => /meanet_inference_queue_requests \d+/.exec(metrics)?.[0] ?? metrics },
    );
    child.kill("SIGTERM");
    for (const [i, r] of (await replies).entries()) {
      expect(r.status, r.body.error).toBe(200);
      expect(maxDiff((r.body.outputs as { data: number[] }[])[0]!.data, await reference(images[i]!))).toBeLessThan(1e-5);
    }
    expect(await exited).toBe(0);
    // onnxruntime's telemetry is off: no empty mat-debug-<pid>.log left behind (the worker's session).
    expect(existsSync(join(tmpdir(), `mat-debug-${child.pid}.log`))).toBe(false);
    expect(out).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    expect(err).toMatch(/SIGTERM: finishing in-flight requests/);
    await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
  });

  it("warns about a token file others may read, rereads it on SIGHUP and serves on, keeps the old token when the new file is bad, and loses no log line", async () => {
    const tokenFile = join(tmp, "hup-token");
    writeFileSync(tokenFile, "first-token\n");
    chmodSync(tokenFile, 0o644);
    const child = spawn(process.execPath, ["bin/meanet.js", "serve", dir, "--port", "0", "--token-file", tokenFile], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    let exit: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve((exit = code))));
    try {
      let out = "";
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on("exit", () => reject(new Error(`serve exited early:\n${err}`)));
      });
      expect(err).toContain(`warning: token file ${tokenFile} is accessible by its group or by others (mode 0644); \`chmod 600 ${tokenFile}\` keeps the token to its owner`);
      expect(err).toMatch(/, max body 934408 bytes \(the longest well-formed request of 64 samples, doubled, \+ 16 KiB\); bearer token required\n/);
      const model = (token: string) => fetch(`${url}/v2/models/${MODEL}?token=${token}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
      const logged = (what: string, pattern: RegExp) =>
        pollUntil(what, () => (exit === undefined ? (pattern.test(err) ? true : undefined) : Promise.reject(new Error(`serve exited (code ${exit}) before ${what}:\n${err}`))), { state: () => err.slice(-600) });

      expect(await model("first-token")).toBe(200);
      writeFileSync(tokenFile, "second-token\n");
      chmodSync(tokenFile, 0o600);
      child.kill("SIGHUP");
      await logged("the reread logged", /SIGHUP: reread the bearer token from /);
      // The request answered just before the signal was logged, before the reread.
      expect(err).toMatch(new RegExp(` GET /v2/models/${MODEL}\\?token=<redacted> 200 [^\n]*\n\\S+ SIGHUP: reread the bearer token from ${tokenFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}; it applies to every request from now on\n`));
      expect(await model("first-token")).toBe(401);
      expect(await model("second-token")).toBe(200);

      writeFileSync(tokenFile, "third-tok\u00e9n\n");
      child.kill("SIGHUP");
      await logged("the bad file logged", /SIGHUP: kept the previous bearer token: /);
      expect(err).toMatch(/\S+ SIGHUP: kept the previous bearer token: MN5001: token file \S+hup-token has a character outside visible ASCII at line 1, column 10 \(U\+00E9\)/);
      expect(await model("second-token")).toBe(200);
      expect(exit).toBeUndefined();

      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(err.match(new RegExp(` GET /v2/models/${MODEL}\\?token=<redacted> (200|401) `, "g"))).toHaveLength(4);
      expect(err).not.toMatch(/first-token|second-token/);
      expect(err).toMatch(/\nstopped\n$/);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("stops with a clear error when the port is taken, the token file is empty or missing, or the build is not exported", () => {
    const taken = cli("serve", dir, "--port", String(open.port));
    expect(taken.status).toBe(1);
    expect(taken.err).toMatch(/^error MN5002: cannot listen on http:\/\/127\.0\.0\.1:\d+: the address is already in use/m);
    expect(taken.out).toBe("");
    const empty = join(tmp, "empty-token");
    writeFileSync(empty, "  \n");
    const e = cli("serve", dir, "--port", "0", "--token-file", empty);
    expect(e.status).toBe(1);
    expect(e.err).toMatch(/^error MN5001: token file .* is empty/m);
    const missing = cli("serve", dir, "--port", "0", "--token-file", join(tmp, "nope"));
    expect(missing.status).toBe(1);
    expect(missing.err).toMatch(/^error MN5001: token file .*nope does not exist$/m);
    const accented = join(tmp, "accented-token");
    writeFileSync(accented, "tok\u00e9n\n");
    const a = cli("serve", dir, "--port", "0", "--token-file", accented);
    expect(a.status).toBe(1);
    expect(a.err).toMatch(/^error MN5001: token file \S*accented-token has a character outside visible ASCII at line 1, column 4 \(U\+00E9\)/m);
    expect(a.out).toBe("");
    const plain = join(tmp, "plain");
    expect(cli("compile", "examples/fashion-mnist.meanet", "-o", plain).status).toBe(0);
    const unexported = cli("serve", join(plain, MODEL), "--port", "0");
    expect(unexported.status).toBe(1);
    expect(unexported.err).toMatch(/^error MN5005: .* has not been exported; run `meanet export/m);
  });

  it("rejects bad flags as usage errors (exit 2)", () => {
    for (const flags of [["--port", "70000"], ["--max-batch", "0"], ["--max-delay-ms", "soon"], ["--max-body-bytes", "-1"], ["--bogus"]]) {
      const r = cli("serve", dir, ...flags);
      expect(r.status, flags.join(" ")).toBe(2);
      expect(r.err).toMatch(/usage: meanet serve/);
    }
  });
});
