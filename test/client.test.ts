/**
 * The KServe v2 client (`CloudClient`) against fake clouds on loopback: the deadline of an attempt,
 * which covers the whole reply, with retries and the cool-down around it.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { CloudClient, type InferInput } from "../src/runtime/infer/client.js";

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
const OUTPUTS = ["probs_cloud"];

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
      await expect(client.infer(INPUTS, OUTPUTS)).rejects.toMatchObject({ message, retryable: true });
      expect(client.stats).toEqual({ calls: 1, failures: 1, fastFailures: 0, retries: 1, firstFailure: message });
      expect(cloud.requests).toBe(2);
      // During the cool-down the next call fails at once, without a request.
      await expect(client.infer(INPUTS, OUTPUTS)).rejects.toThrow(`cloud ${cloud.url} failed recently; not retried until the cool-down ends`);
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
      await expect(client.infer(INPUTS, OUTPUTS)).rejects.toThrow(`no complete answer from ${cloud.url} within 300 ms`);
      expect(client.stats).toMatchObject({ calls: 1, failures: 1, retries: 0 });
    } finally {
      client.close();
      await cloud.close();
    }
  }, 10_000);
});
