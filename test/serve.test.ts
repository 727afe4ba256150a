/**
 * The parts of `meanet serve` that need no model file and no socket: request parsing for a model
 * with two inputs, the dynamic batcher with a stand-in runner, the body limit and the turns of
 * large bodies, the request log's view of a query string, and reading the token file. The server
 * itself, over HTTP, is test/serve.e2e.test.ts.
 */
import { EventEmitter } from "node:events";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { readTokenFile, tokenFileWarning } from "../src/runtime/serve/auth.js";
import { Batcher, type BatchRunner } from "../src/runtime/serve/batcher.js";
import { inputBodyBytes, jsonCharsPerElement, largeBodyBytes, requestBodyLimit, Turns } from "../src/runtime/serve/bodies.js";
import { datatypeOf } from "../src/runtime/serve/datatypes.js";
import { loggedTarget } from "../src/runtime/serve/handler.js";
import { Gauge } from "../src/runtime/serve/metrics.js";
import type { ServedModel } from "../src/runtime/serve/model.js";
import { HttpError, parseInferRequest } from "../src/runtime/serve/protocol.js";

describe("requests for a model with two inputs", () => {
  // Only the tensor specs matter to parsing; no session is opened.
  const spec = (name: string, dtype: string, shape: number[]) => ({ name, datatype: datatypeOf(dtype)!, shape, size: shape.reduce((a, b) => a * b, 1) });
  const model = { name: "two", version: "1", inputs: [spec("a", "float32", [2]), spec("b", "int8", [3])], outputs: [spec("y", "float32", [1])] } as unknown as ServedModel;
  const a = (n: number) => ({ name: "a", datatype: "FP32", shape: [n, 2], data: new Array(n * 2).fill(0.5) });
  const b = (n: number) => ({ name: "b", datatype: "INT8", shape: [n, 3], data: new Array(n * 3).fill(-128) });
  const problem = (body: unknown) => {
    try {
      parseInferRequest(body, model, 8);
    } catch (e) {
      expect(e).toBeInstanceOf(HttpError);
      return (e as HttpError).message;
    }
    throw new Error("no error");
  };

  it("names a missing input and a batch size the inputs disagree on", () => {
    expect(problem({ inputs: [a(1)] })).toMatch(/missing input `b`/);
    expect(problem({ inputs: [a(2), b(3)] })).toMatch(/inputs disagree on the batch size: `a` has 2, `b` has 3/);
    expect(problem({ inputs: [a(1), { ...b(1), data: [1, 2, 128] }] })).toMatch(/element 2 = 128 is out of range for INT8 \(-128 to 127\)/);
    expect(problem({ inputs: [{ ...a(1), data: [1, true] }, b(1)] })).toMatch(/element 1 is true, not a number/);
    expect(problem({ inputs: [{ ...a(1), data: [1e39, 0] }, b(1)] })).toMatch(/out of range for FP32/);
  });

  it("puts the inputs in the model's order whatever the request's order", () => {
    const r = parseInferRequest({ inputs: [b(2), a(2)], outputs: [{ name: "y" }] }, model, 8);
    expect(r.batch).toBe(2);
    expect(r.inputs[0]).toBeInstanceOf(Float32Array);
    expect(Array.from(r.inputs[1]!)).toEqual(new Array(6).fill(-128));
  });
});

describe("dynamic batching", () => {
  const float = datatypeOf("float32")!;
  const doubler: BatchRunner = async (inputs) => [Float32Array.from(inputs[0]!, (v) => v * 2)];
  const observer = (sizes: number[]) => ({ batch: (s: number) => void sizes.push(s), queue: () => {} });

  it("takes whole requests in arrival order up to max-batch, and splits the results back", async () => {
    const sizes: number[] = [];
    const b = new Batcher(doubler, [{ datatype: float, size: 2 }], [{ datatype: float, size: 2 }], { maxBatch: 8, maxDelayMs: 1000 }, observer(sizes));
    const jobs = [3, 2, 4, 1, 6].map((n, k) => b.submit([Float32Array.from({ length: n * 2 }, (_, i) => k * 100 + i)], n));
    await b.drain();
    const results = await Promise.all(jobs);
    expect(sizes).toEqual([5, 5, 6]);
    for (const [k, r] of results.entries()) expect(Array.from(r.outputs[0]!)).toEqual(Array.from({ length: r.outputs[0]!.length }, (_, i) => (k * 100 + i) * 2));
  });

  it("a request that arrives while a batch runs goes in the next batch as soon as the run ends, without waiting out the delay again", async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const slow: BatchRunner = async (inputs, n) => {
      await sleep(50);
      return doubler(inputs, n);
    };
    const sizes: number[] = [];
    const b = new Batcher(slow, [{ datatype: float, size: 1 }], [{ datatype: float, size: 1 }], { maxBatch: 8, maxDelayMs: 200 }, observer(sizes));
    // A runs at 200 ms until 250; B comes at 220, during that run, and C at 280, during B's run.
    const jobs = [b.submit([Float32Array.of(1)], 1)];
    await sleep(220);
    jobs.push(b.submit([Float32Array.of(2)], 1));
    await sleep(60);
    jobs.push(b.submit([Float32Array.of(3)], 1));
    await Promise.all(jobs);
    // Waiting out the delay again, B would have run at 420 ms, together with C.
    expect(sizes).toEqual([1, 1, 1]);
  });

  it("fails every request of a failing batch, and goes on with the next", async () => {
    let fail = true;
    const runner: BatchRunner = async (inputs, n) => {
      if (fail) throw new Error("boom");
      return doubler(inputs, n);
    };
    const b = new Batcher(runner, [{ datatype: float, size: 1 }], [{ datatype: float, size: 1 }], { maxBatch: 4, maxDelayMs: 0 }, observer([]));
    const failed = await Promise.allSettled([b.submit([Float32Array.of(1)], 1), b.submit([Float32Array.of(2)], 1)]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(Array.from((await b.submit([Float32Array.of(3)], 1)).outputs[0]!)).toEqual([6]);
  });
});

describe("the body limit", () => {
  const image = { datatype: datatypeOf("uint8")!, shape: [28, 28, 1] };
  /** Nested arrays of `shape`, every element `v`. */
  const filled = (shape: number[], v: number): unknown => (shape.length === 1 ? new Array(shape[0]).fill(v) : Array.from({ length: shape[0]! }, () => filled(shape.slice(1), v)));
  /** A body as Python's json.dumps writes it: ", " and ": " between items, the longest common spelling. */
  const pythonStyle = (value: unknown) => JSON.stringify(value).replace(/,/g, ", ").replace(/":/g, '": ');

  it("counts the longest spelling of an element of each datatype, with its separator", () => {
    const chars = (dtype: string) => jsonCharsPerElement(datatypeOf(dtype)!);
    expect([chars("uint8"), chars("int8"), chars("int32"), chars("float32"), chars("float64")]).toEqual(["255, ", "-128, ", "-2147483648, ", "-1.1754942106924411e-38, ", "-2.2250738585072014e-308, "].map((t) => t.length));
    // No float32 value, sent as a double in shortest form, is longer than that.
    for (const v of [-3.4028234663852886e38, -1.401298464324817e-45, -1.1754942106924411e-38, Math.fround(-0.1)]) expect(String(v).length + 2).toBeLessThanOrEqual(chars("float32"));
  });

  it("is twice the longest well-formed request of max-batch samples plus 16 KiB: 934,408 bytes for Fashion-MNIST at 64", () => {
    // 64 × 784 elements of "255, " and 1 + 64 + 64·28 + 64·28·28 arrays of "[], ".
    expect(inputBodyBytes(image, 64)).toBe(64 * 784 * 5 + (1 + 64 + 64 * 28 + 64 * 28 * 28) * 4);
    expect(requestBodyLimit([image], 64)).toBe(2 * 459_012 + 16_384);
    // The longest body a client sends for a batch of 64 (nested, every pixel 255, Python's spacing) fits without the margin.
    const worst = pythonStyle({ id: "a-request-id", inputs: [{ name: "image", shape: [64, 28, 28, 1], datatype: "UINT8", data: filled([64, 28, 28, 1], 255) }] });
    expect(worst.length).toBeLessThanOrEqual(inputBodyBytes(image, 64) + 200);
    expect(worst.length).toBeGreaterThan(inputBodyBytes(image, 64) * 0.6);
    // Binary tensor data is always the shorter encoding; FP64 counts 8 bytes an element there.
    expect(inputBodyBytes({ datatype: datatypeOf("float64")!, shape: [3] }, 2)).toBe(6 * 26 + 3 * 4);
  });

  it("counts a body as large above what a single-sample request may take, and never below 64 KiB", () => {
    expect(largeBodyBytes([image])).toBe(64 * 1024);
    const big = { datatype: datatypeOf("float32")!, shape: [224, 224, 3] };
    expect(largeBodyBytes([big])).toBe(requestBodyLimit([big], 1));
    expect(largeBodyBytes([big])).toBeGreaterThan(2 * 224 * 224 * 3 * 20);
  });
});

describe("turns for large bodies", () => {
  class FakeResponse extends EventEmitter {}
  const turns = (timeoutMs = 60_000) => {
    const holding = new Gauge("h", "h");
    const waiting = new Gauge("w", "w");
    return { t: new Turns({ limit: 1, waiting: 2, timeoutMs, what: "being read" }, { holding, waiting }), holding, waiting };
  };
  const status = (p: Promise<unknown>) => p.then(() => "admitted", (e: HttpError) => e.status);

  it("admits up to the limit, queues in arrival order up to the waiting count, refuses the next with 503 and Retry-After", async () => {
    const { t, holding, waiting } = turns();
    const first = await t.take(new FakeResponse());
    const order: string[] = [];
    const second = t.take(new FakeResponse()).then((end) => (order.push("second"), end));
    const third = t.take(new FakeResponse()).then((end) => (order.push("third"), end));
    const refused = await t.take(new FakeResponse()).catch((e: HttpError) => e);
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ status: 503, headers: { "retry-after": "1", connection: "close" } });
    expect((refused as HttpError).message).toMatch(/busy with large requests \(1 being read, 2 waiting\)/);
    expect([holding.get(), waiting.get()]).toEqual([1, 2]);
    first();
    first(); // ending a turn twice frees one place only
    (await second)();
    (await third)();
    expect(order).toEqual(["second", "third"]);
    expect([holding.get(), waiting.get(), t.holding, t.waiting]).toEqual([0, 0, 0, 0]);
  });

  it("drops a waiter whose client goes away, and refuses one that waited too long", async () => {
    vi.useFakeTimers();
    try {
      const { t } = turns(1000);
      const end = await t.take(new FakeResponse());
      const leaving = new FakeResponse();
      const gone = status(t.take(leaving));
      const late = status(t.take(new FakeResponse()));
      leaving.emit("close");
      expect(await gone).toBe(499);
      expect(t.waiting).toBe(1);
      await vi.advanceTimersByTimeAsync(1000);
      expect(await late).toBe(503);
      expect(t.waiting).toBe(0);
      end();
      expect(t.holding).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the request log's target", () => {
  it("keeps the path and the query's parameter names, never their values", () => {
    expect(loggedTarget("/v2/models/m/infer")).toBe("/v2/models/m/infer");
    expect(loggedTarget("/v2/models/m?token=s3cret&x=1")).toBe("/v2/models/m?token=<redacted>&x=<redacted>");
    expect(loggedTarget("/v2?s3cret")).toBe("/v2?<redacted>");
    expect(loggedTarget("/v2?=s3cret&a%20b=s3cret&&")).toBe("/v2?<redacted>&<redacted>");
    expect(loggedTarget(`/v2?${"k=v&".repeat(12)}`)).toBe(`/v2?${Array(10).fill("k=<redacted>").join("&")}&…(2 more)`);
  });
});

describe("the token file", () => {
  const dir = mkdtempSync(join(tmpdir(), "meanet-token-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string, mode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  const problem = (path: string) => {
    try {
      readTokenFile(path);
    } catch (e) {
      return e as { code: string; message: string };
    }
    throw new Error("no error");
  };

  it("reads one word of visible ASCII, trimmed", () => {
    expect(readTokenFile(file("good", "\n  !Abc-123_~\r\n"))).toBe("!Abc-123_~");
  });

  it("refuses a character outside visible ASCII with MN5001, naming the file, the line and column and the character", () => {
    const accented = file("accented", "tok\u00e9n\n");
    expect(problem(accented)).toMatchObject({ code: "MN5001", message: `token file ${accented} has a character outside visible ASCII at line 1, column 4 (U+00E9); a bearer token holds only the characters ! to ~ (0x21 to 0x7e)` });
    expect(problem(file("bell", "\n  ab\u0007c")).message).toMatch(/at line 2, column 5 \(U\+0007\)/);
    expect(problem(file("nbsp", "ab\u00a0cd")).message).toMatch(/at line 1, column 3 \(U\+00A0\)/);
    expect(problem(file("emoji", "\u{1F511}x\u00ff")).message).toMatch(/at line 1, column 1 \(U\+1F511\)/);
    expect(problem(file("two-words", "ab cd")).message).toMatch(/holds more than one word \(a space or line break at line 1, column 3\)/);
  });

  it.skipIf(process.platform === "win32")("warns when the group or others may read or change it, as ssh does", () => {
    expect(tokenFileWarning(file("private", "t", 0o600))).toBeUndefined();
    expect(tokenFileWarning(file("owner-only", "t", 0o400))).toBeUndefined();
    const shared = file("shared", "t", 0o644);
    expect(tokenFileWarning(shared)).toBe(`warning: token file ${shared} is accessible by its group or by others (mode 0644); \`chmod 600 ${shared}\` keeps the token to its owner`);
    expect(tokenFileWarning(file("group", "t", 0o640))).toMatch(/mode 0640/);
    expect(tokenFileWarning(file("others-write", "t", 0o602))).toMatch(/mode 0602/);
  });
});
