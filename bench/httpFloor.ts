/**
 * The floor under `meanet serve`'s own cost: a bare node:http server that reads each request's
 * body, parses its JSON (the whole body, or with the binary tensor extension its JSON header) and
 * answers with a fixed inference response of the same size as the real one, without validating
 * or running anything. bench/serveIsolated.ts runs it pinned to the server's core under the same
 * load to show what node:http and JSON.parse cost per request before any of meanet's work.
 *
 *   node bench/httpFloor.ts PORT
 */
import { createServer } from "node:http";

const reply = JSON.stringify({
  model_name: "fashion_mnist",
  model_version: "1",
  id: "00000000-0000-4000-8000-000000000000",
  outputs: [{ name: "probs_cloud", datatype: "FP32", shape: [1, 10], data: Array.from({ length: 10 }, (_, i) => Math.fround(0.0123 * (i + 1))) }],
});
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const header = req.headers["inference-header-content-length"];
    JSON.parse(body.subarray(0, header === undefined ? body.length : Number(header)).toString("utf8"));
    res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(reply)) });
    res.end(reply);
  });
});
server.keepAliveTimeout = 15_000;
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}/`));
