/**
 * The KServe v2 client (`CloudClient`) against fake clouds on loopback: the deadline of an attempt,
 * which covers the whole reply, with retries and the cool-down around it; and the checks every
 * reply passes before its outputs are used. The same failures through a router over a trained
 * build are in test/route.e2e.test.ts.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudClient, type ExpectedOutput, type InferInput } from "../src/runtime/infer/client.js";

interface FakeCloud {
  url: string;
  /** Infer requests received so far. */
  requests: number;
  close(): Promise<void>;
}

/** A KServe v2 server in form only: every infer request, once read, is answered by `answer`. */
async function fakeCloud(answer: (res: ServerResponse) => void): Promise<FakeCloud> {
  const cloud = { url: "", requests: 0, close: async () => {} };
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      cloud.requests++;
      answer(res);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  cloud.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cloud.close = () => {
    server.closeAllConnections();
    return new Promise((done) => server.close(() => done()));
  };
  return cloud;
}

const BATCH = 4;
const INPUTS: InferInput[] = [{ name: "image", datatype: "UINT8", shape: [BATCH, 2], data: new Uint8Array(BATCH * 2) }];
/** An exit's probabilities and a tensor that is not one: only the first must be probabilities. */
const EXPECTED: ExpectedOutput[] = [
  { name: "probs_cloud", datatype: "FP32", shape: [BATCH, 3], probabilities: true },
  { name: "features", datatype: "FP32", shape: [BATCH, 2], probabilities: false },
];
const PROBS = [0.2, 0.3, 0.5, 1, 0, 0, 0.25, 0.25, 0.5, 0.6, 0.3, 0.1];
const FEATURES = [-3, 5.5, 0, 1e6, -0.25, 2, 7, -7];

type Output = { name: string; datatype?: unknown; shape?: unknown; data?: unknown };
const good = (): Output[] => [
  { name: "probs_cloud", datatype: "FP32", shape: [BATCH, 3], data: [...PROBS] },
  { name: "features", datatype: "FP32", shape: [BATCH, 2], data: [...FEATURES] },
];
/** The good reply with the probabilities' data changed at `index` to `value`. */
const probsWith = (index: number, value: unknown): Output[] => {
  const o = good();
  (o[0]!.data as unknown[])[index] = value;
  return o;
};

describe("the deadline of an attempt", () => {
  it("a cloud that answers 200 and then sends its body a byte every 200 ms fails each attempt at the deadline; the call is retried, then the cool-down holds", async () => {
    const cloud = await fakeCloud((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      const drip = setInterval(() => res.write(" "), 200);
      res.on("close", () => clearInterval(drip));
    });
    const client = new CloudClient({ url: cloud.url, model: "m", timeoutMs: 500, retries: 1, backoffMs: 10, cooldownMs: 600_000 });
    const message = `no complete answer from ${cloud.url} within 500 ms`;
    try {
      await expect(client.infer(INPUTS, EXPECTED)).rejects.toMatchObject({ message, retryable: true });
      expect(client.stats).toEqual({ calls: 1, failures: 1, fastFailures: 0, retries: 1, firstFailure: message });
      expect(cloud.requests).toBe(2);
      // During the cool-down the next call fails at once, without a request.
      await expect(client.infer(INPUTS, EXPECTED)).rejects.toThrow(`cloud ${cloud.url} failed recently; not retried until the cool-down ends`);
      expect(client.stats).toEqual({ calls: 2, failures: 2, fastFailures: 1, retries: 1, firstFailure: message });
      expect(cloud.requests).toBe(2);
    } finally {
      client.close();
      await cloud.close();
    }
  }, 10_000);

  it("a cloud that never answers fails the same way", async () => {
    const cloud = await fakeCloud(() => {});
    const client = new CloudClient({ url: cloud.url, model: "m", timeoutMs: 300, retries: 0, cooldownMs: 0 });
    try {
      await expect(client.infer(INPUTS, EXPECTED)).rejects.toThrow(`no complete answer from ${cloud.url} within 300 ms`);
      expect(client.stats).toMatchObject({ calls: 1, failures: 1, retries: 0 });
    } finally {
      client.close();
      await cloud.close();
    }
  }, 10_000);
});

describe("the checks of a reply", () => {
  let reply: string;
  let cloud: FakeCloud;
  beforeAll(async () => {
    cloud = await fakeCloud((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(reply);
    });
  });
  afterAll(() => cloud.close());

  /** One call with a fresh client (no cool-down carried over); `body` is the outputs, or the reply's text. */
  const ask = async (body: Output[] | string) => {
    reply = typeof body === "string" ? body : JSON.stringify({ model_name: "m", outputs: body });
    const client = new CloudClient({ url: cloud.url, model: "m", timeoutMs: 5000, retries: 2, cooldownMs: 0 });
    const before = cloud.requests;
    try {
      const result = await client.infer(INPUTS, EXPECTED).then(
        (outputs) => ({ outputs, error: undefined }),
        (e: Error) => ({ outputs: undefined, error: e }),
      );
      return { ...result, stats: { ...client.stats }, requests: cloud.requests - before };
    } finally {
      client.close();
    }
  };

  it("a reply as asked is used as sent, its data flat or nested by the shape; only exit probabilities must lie in [0, 1] and sum to 1 by row", async () => {
    for (const outputs of [good(), good().map((o, i) => ({ ...o, data: nest(o.data as number[], i === 0 ? 3 : 2) }))]) {
      const r = await ask(outputs);
      expect(r.error).toBeUndefined();
      expect(Array.from(r.outputs!.probs_cloud!.data)).toEqual(Array.from(Float32Array.from(PROBS)));
      expect(r.outputs!.probs_cloud!.shape).toEqual([BATCH, 3]);
      expect(Array.from(r.outputs!.features!.data)).toEqual(FEATURES);
      expect(r.stats).toMatchObject({ calls: 1, failures: 0 });
    }
  });

  const bad: [string, Output[] | string, string][] = [
    ["null", probsWith(0, null), "cloud output probs_cloud holds a non-number at index 0: null"],
    ["a string", probsWith(4, "0.3"), 'cloud output probs_cloud holds a non-number at index 4: "0.3"'],
    ["NaN as a string", probsWith(2, "NaN"), 'cloud output probs_cloud holds a non-number at index 2: "NaN"'],
    ["a value beyond FP32", (() => { const o = good(); (o[1]!.data as number[])[5] = 1e39; return o; })(), "cloud output features holds 1e+39 at index 5, beyond the range of FP32"],
    ["too few values", (() => { const o = good(); (o[0]!.data as number[]).pop(); return o; })(), "cloud output probs_cloud has 11 values, not the 12 of shape [4,3]"],
    ["too many values", (() => { const o = good(); (o[1]!.data as number[]).push(1); return o; })(), "cloud output features has 9 values, not the 8 of shape [4,2]"],
    ["a wrong shape", good().map((o, i) => (i === 0 ? { ...o, shape: [3, 4] } : o)), "cloud output probs_cloud has shape [3,4], not [4,3]"],
    ["a flat shape", good().map((o, i) => (i === 0 ? { ...o, shape: [12] } : o)), "cloud output probs_cloud has shape [12], not [4,3]"],
    ["a missing output", good().slice(0, 1), "cloud reply lacks output features"],
    ["another datatype", good().map((o, i) => (i === 0 ? { ...o, datatype: "FP64" } : o)), 'cloud output probs_cloud has datatype "FP64", not FP32'],
    ["no datatype", good().map((o, i) => (i === 1 ? { name: o.name, shape: o.shape, data: o.data } : o)), "cloud output features has datatype (none), not FP32"],
    ["no data", good().map((o, i) => (i === 0 ? { ...o, data: "0.2,0.3" } : o)), "cloud output probs_cloud has no data array"],
    ["a row that does not sum to 1", (() => { const o = good(); (o[0]!.data as number[]).splice(9, 3, 0.1, 0.1, 0.22); return o; })(), "cloud output probs_cloud row 3 sums to 0.42, not 1"],
    ["a negative probability", probsWith(4, -0.2), "cloud output probs_cloud holds -0.2 at index 4, not a probability in [0, 1]"],
    ["a probability above 1", (() => { const o = good(); (o[0]!.data as number[]).splice(0, 3, 1.5, -0.5, 0); return o; })(), "cloud output probs_cloud holds 1.5 at index 0, not a probability in [0, 1]"],
    ["no outputs", JSON.stringify({ model_name: "m" }), "cloud reply has no list of outputs"],
  ];

  for (const [what, body, message] of bad) {
    it(`a reply with ${what} is a failed call, not retried, that names the cause`, async () => {
      const r = await ask(body);
      expect(r.outputs).toBeUndefined();
      expect(r.error).toMatchObject({ message, retryable: false });
      expect(r.stats).toEqual({ calls: 1, failures: 1, fastFailures: 0, retries: 0, firstFailure: message });
      expect(r.requests).toBe(1);
    });
  }
});

/** `flat` as rows of `k`. */
function nest(flat: number[], k: number): number[][] {
  return Array.from({ length: flat.length / k }, (_, r) => flat.slice(r * k, (r + 1) * k));
}
