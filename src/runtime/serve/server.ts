/**
 * The cloud server: the cloud partition of an exported build behind the Open Inference Protocol
 * (KServe v2) REST API, with dynamic batching, an optional bearer token (replaceable while
 * serving), a body limit derived from the model, Prometheus metrics and a graceful shutdown. This
 * file sets it up (the engine, the batcher, the listening socket) and shuts it down; handler.ts
 * answers the requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { BearerAuth } from "./auth.js";
import { Batcher } from "./batcher.js";
import { LARGE_BODIES, largeBodyBytes, largeBodyTurns, requestBodyLimit } from "./bodies.js";
import { handleRequest, RequestTracker, type HandlerContext } from "./handler.js";
import { ServerMetrics } from "./metrics.js";
import { openEngine, type Engine, type EngineThread } from "./engine.js";
import { describeServedModel, type TensorSpec } from "./model.js";

export const SERVE_DEFAULTS = {
  host: "127.0.0.1",
  port: 8000,
  maxBatch: 64,
  maxDelayMs: 2,
  bodyTimeoutMs: 30_000,
  shutdownTimeoutMs: 30_000,
} as const;

export { CLIENT_GONE } from "./handler.js";

export interface ServeOptions {
  /** The model's folder in a build directory, exported (`meanet export`). */
  buildDir: string;
  host?: string;
  /** 0 picks a free port; the handle's `port` and `url` tell which. */
  port?: number;
  /** When set, every endpoint but the two health checks needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Most samples in one onnxruntime run; also the largest batch one request may send. */
  maxBatch?: number;
  /** How long the oldest queued request waits for others to join its batch. */
  maxDelayMs?: number;
  /**
   * The largest request body; a longer one is a 413, refused from its Content-Length before it is
   * read. Defaults to twice the longest well-formed request of `maxBatch` samples, plus 16 KiB
   * (`requestBodyLimit` in bodies.ts).
   */
  maxBodyBytes?: number;
  /** Turns of large requests (bodies longer than a single-sample request can be): read at once, served at once, waiting; see bodies.ts. */
  largeBodies?: typeof LARGE_BODIES;
  /** How long a request's body may take to arrive after its headers; later is a 408. */
  bodyTimeoutMs?: number;
  /** One line per answered request (method, path, status, latency, batch). Silent when absent. */
  log?: (line: string) => void;
  /** Reported by GET /v2; defaults to the meanet version that compiled the build. */
  serverVersion?: string;
  /**
   * onnxruntime threads inside one operator; its default is one per core. Fewer can pay when
   * the clients run on the same machine (see bench/README.md).
   */
  intraOpThreads?: number;
  /**
   * Where batches run: on a worker thread (default), so requests are read and answered while
   * onnxruntime computes, or on the main thread, which onnxruntime then holds for each batch.
   */
  inferenceThread?: EngineThread;
  /** How long close() lets in-flight requests run before cutting their connections. */
  shutdownTimeoutMs?: number;
}

export interface ModelInfo {
  name: string;
  version: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

export interface RunningServer {
  /** `http://host:port`, with the real port when 0 was asked for. */
  url: string;
  host: string;
  port: number;
  model: ModelInfo;
  metrics: ServerMetrics;
  /** The body limit in force: `maxBodyBytes`, or the one derived from the model. */
  maxBodyBytes: number;
  /** Bodies longer than this take a turn among the large ones. */
  largeBodyBytes: number;
  /** Replaces the bearer token (undefined: none needed) for every request from now on. */
  setToken(token: string | undefined): void;
  /** Stops accepting connections, finishes in-flight and queued requests, closes keep-alive sockets, releases the session. */
  close(): Promise<void>;
}

function positive(name: string, v: number, min: number): number {
  if (!Number.isFinite(v) || v < min) throw new RangeError(`${name} must be a number ≥ ${min}, not ${v}`);
  return v;
}

const info = (s: TensorSpec) => ({ name: s.name, datatype: s.datatype.name, shape: [-1, ...s.shape] });

function urlOf(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Loads the model, then listens; resolves once requests can be served. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? SERVE_DEFAULTS.host;
  const port = options.port ?? SERVE_DEFAULTS.port;
  const maxBatch = Math.floor(positive("maxBatch", options.maxBatch ?? SERVE_DEFAULTS.maxBatch, 1));
  const maxDelayMs = positive("maxDelayMs", options.maxDelayMs ?? SERVE_DEFAULTS.maxDelayMs, 0);
  const bodyTimeoutMs = positive("bodyTimeoutMs", options.bodyTimeoutMs ?? SERVE_DEFAULTS.bodyTimeoutMs, 1);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? SERVE_DEFAULTS.shutdownTimeoutMs;
  const auth = options.token !== undefined ? new BearerAuth(options.token) : undefined;

  const model = describeServedModel(options.buildDir);
  const maxBodyBytes = positive("maxBodyBytes", options.maxBodyBytes ?? requestBodyLimit(model.inputs, maxBatch), 1);
  const large = options.largeBodies ?? LARGE_BODIES;
  for (const [k, v] of Object.entries(large)) positive(`largeBodies.${k}`, v, k === "waiting" ? 0 : 1);
  const engine = await openEngine(model, { thread: options.inferenceThread ?? "worker", ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}) });
  const metrics = new ServerMetrics(maxBatch);
  const batcher = new Batcher(engine.run, model.inputs, model.outputs, { maxBatch, maxDelayMs }, {
    batch: (samples, waits, seconds, failed) => metrics.batch(samples, waits, seconds, failed),
    queue: (requests, samples) => {
      metrics.queueRequests.set(requests);
      metrics.queueSamples.set(samples);
    },
  });
  const requests = new RequestTracker(metrics);
  const largeBodies = largeBodyTurns(large, bodyTimeoutMs, { waiting: metrics.largeBodiesWaiting, reading: metrics.largeBodiesReading, serving: metrics.largeBodiesServing });
  const ctx: HandlerContext = {
    model,
    serverVersion: options.serverVersion ?? model.toolVersion,
    engine,
    batcher,
    metrics,
    requests,
    auth,
    maxBatch,
    maxBodyBytes,
    largeBodyBytes: largeBodyBytes(model.inputs),
    largeBodies,
    bodyTimeoutMs,
    log: options.log,
  };

  const server = httpServer(ctx);
  await listen(server, host, port, engine);
  // After startup, a server-level error (say, too many open files on accept) is logged, not fatal.
  server.on("error", (e) => options.log?.(`${new Date().toISOString()} server error: ${e.message}`));

  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: urlOf(host, bound),
    host,
    port: bound,
    model: { name: model.name, version: model.version, inputs: model.inputs.map(info), outputs: model.outputs.map(info) },
    metrics,
    maxBodyBytes,
    largeBodyBytes: ctx.largeBodyBytes,
    setToken: (token) => void (ctx.auth = token !== undefined ? new BearerAuth(token) : undefined),
    close: () => (closed ??= shutdown(server, ctx, engine, shutdownTimeoutMs)),
  };
}

/** The HTTP server with its timeouts, answering with `handleRequest`, and malformed HTTP with a 4xx before closing. */
function httpServer(ctx: HandlerContext): Server {
  const server: Server = createServer((req, res) => handleRequest(ctx, req, res));
  server.keepAliveTimeout = 15_000;
  server.headersTimeout = 20_000;
  // Node's own limit on receiving a whole request, a backstop behind the body timeout.
  server.requestTimeout = Math.max(120_000, server.headersTimeout + ctx.bodyTimeoutMs + 10_000);
  // A client that announces a too-large body with `Expect: 100-continue` gets its 413 before sending it.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (!(Number(req.headers["content-length"]) > ctx.maxBodyBytes)) res.writeContinue();
    handleRequest(ctx, req, res);
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const [status, reason] = err.code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large"] : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "Request Timeout"] : [400, "Bad Request"];
    const body = JSON.stringify({ error: `malformed HTTP request: ${err.message}` });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  return server;
}

/** Listens on host:port; when it cannot, releases the engine and says why. */
async function listen(server: Server, host: string, port: number, engine: Engine): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    await engine.release();
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "EADDRINUSE" ? "the address is already in use; pick another --port or stop the other server" : err.code === "EACCES" ? "permission denied" : err.message;
    throw new MeanetError(Codes.OutputFailed, `cannot listen on ${urlOf(host, port)}: ${why}`);
  }
}

/** Stops accepting connections, finishes in-flight and queued requests (cutting connections after the timeout), then releases the engine. */
async function shutdown(server: Server, ctx: HandlerContext, engine: Engine, timeoutMs: number): Promise<void> {
  ctx.requests.closing = true;
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await ctx.batcher.drain();
  if (ctx.requests.inFlight > 0) await ctx.requests.idle();
  server.closeIdleConnections();
  await stopped;
  clearTimeout(deadline);
  await engine.release();
}
