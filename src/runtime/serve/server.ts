/**
 * The cloud server: the cloud partition of an exported build behind the Open Inference Protocol
 * (KServe v2) REST API, with dynamic batching, an optional bearer token, Prometheus metrics and a
 * graceful shutdown.
 *
 * Routing is a fixed table (see `route`); every failure becomes a status and `{"error": "..."}`,
 * and no exception escapes a request handler, so one bad request cannot take the server down.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { jsonProblem } from "../../format/build.js";
import { BearerAuth } from "./auth.js";
import { Batcher } from "./batcher.js";
import { BodyTooLarge, discardRest, readBody, sendBody, sendEmpty, sendError, sendJson, splitBinaryBody } from "./http.js";
import { ServerMetrics, type Endpoint } from "./metrics.js";
import { openEngine, type EngineThread } from "./engine.js";
import { describeServedModel, type ServedModel, type TensorSpec } from "./model.js";
import { HttpError, inferResponse, modelMetadata, parseInferRequest, serverMetadata } from "./protocol.js";

export const SERVE_DEFAULTS = {
  host: "127.0.0.1",
  port: 8000,
  maxBatch: 64,
  maxDelayMs: 2,
  maxBodyBytes: 64 * 1024 * 1024,
  bodyTimeoutMs: 30_000,
  shutdownTimeoutMs: 30_000,
} as const;

/** The status metrics record for a request whose client went away before any answer (nginx's "client closed request"). */
export const CLIENT_GONE = 499;

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
  maxBodyBytes?: number;
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
  /** Stops accepting connections, finishes in-flight and queued requests, closes keep-alive sockets, releases the session. */
  close(): Promise<void>;
}

/** Binary tensor data (Triton's extension) in requests and responses. */
const EXTENSIONS = ["binary_tensor_data"];

type Route =
  | { endpoint: "server_metadata" | "health_live" | "health_ready" | "metrics"; method: "GET" }
  | { endpoint: "model_metadata" | "model_ready"; method: "GET"; model: string; version: string | undefined }
  | { endpoint: "infer"; method: "POST"; model: string; version: string | undefined };

const UNAUTHENTICATED: ReadonlySet<Endpoint> = new Set(["health_live", "health_ready"]);

/** The endpoint a path names, or undefined. Paths are case-sensitive, as the protocol says. */
function route(path: string): Route | undefined {
  const parts = path.split("/").map(decodeURIComponent);
  if (parts[0] !== "") return undefined;
  const p = parts.slice(1);
  if (p.length === 1 && p[0] === "metrics") return { endpoint: "metrics", method: "GET" };
  if (p[0] !== "v2") return undefined;
  if (p.length === 1) return { endpoint: "server_metadata", method: "GET" };
  if (p.length === 3 && p[1] === "health" && p[2] === "live") return { endpoint: "health_live", method: "GET" };
  if (p.length === 3 && p[1] === "health" && p[2] === "ready") return { endpoint: "health_ready", method: "GET" };
  if (p[1] !== "models" || p.length < 3 || !p[2]) return undefined;
  const model = p[2];
  let rest = p.slice(3);
  let version: string | undefined;
  if (rest[0] === "versions") {
    if (!rest[1]) return undefined;
    version = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length === 0) return { endpoint: "model_metadata", method: "GET", model, version };
  if (rest.length === 1 && rest[0] === "ready") return { endpoint: "model_ready", method: "GET", model, version };
  if (rest.length === 1 && rest[0] === "infer") return { endpoint: "infer", method: "POST", model, version };
  return undefined;
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
  const maxBatch = Math.floor(positive("maxBatch", options.maxBatch ?? SERVE_DEFAULTS.maxBatch, 1));
  const maxDelayMs = positive("maxDelayMs", options.maxDelayMs ?? SERVE_DEFAULTS.maxDelayMs, 0);
  const maxBodyBytes = positive("maxBodyBytes", options.maxBodyBytes ?? SERVE_DEFAULTS.maxBodyBytes, 1);
  const bodyTimeoutMs = positive("bodyTimeoutMs", options.bodyTimeoutMs ?? SERVE_DEFAULTS.bodyTimeoutMs, 1);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? SERVE_DEFAULTS.shutdownTimeoutMs;
  const auth = options.token !== undefined ? new BearerAuth(options.token) : undefined;
  const log = options.log;

  const model = describeServedModel(options.buildDir);
  const engine = await openEngine(model, { thread: options.inferenceThread ?? "worker", ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}) });
  const version = options.serverVersion ?? model.toolVersion;
  const metrics = new ServerMetrics(maxBatch);
  const batcher = new Batcher(engine.run, model.inputs, model.outputs, { maxBatch, maxDelayMs }, {
    batch: (samples, _requests, seconds, failed) => metrics.batch(samples, seconds, failed),
    queue: (requests, samples) => {
      metrics.queueRequests.set(requests);
      metrics.queueSamples.set(samples);
    },
  });

  let closing = false;
  /** While shutting down, every response closes its connection so keep-alive clients let go. */
  const closingHeaders = (): Record<string, string> => (closing ? { connection: "close" } : {});
  let inFlight = 0;
  let idle: (() => void)[] = [];

  /** Not ready while shutting down, or once the inference engine has failed for good. */
  const notReady = () => {
    if (closing) throw new HttpError(503, "the server is shutting down");
    const failure = engine.failure();
    if (failure) throw new HttpError(503, `the model cannot run: ${failure.message}`);
  };

  const checkModel = (name: string, v: string | undefined) => {
    if (name !== model.name) throw new HttpError(404, `unknown model \`${name}\`; this server serves \`${model.name}\``);
    if (v !== undefined && v !== model.version) throw new HttpError(404, `model \`${name}\` has no version \`${v}\`; its only version is \`${model.version}\``);
  };

  /** What the log line says about a request beyond its status; set before the response goes out. */
  interface Detail {
    text: string;
  }

  async function infer(req: IncomingMessage, res: ServerResponse, served: ServedModel, detail: Detail): Promise<void> {
    const body = await readBody(req, maxBodyBytes, bodyTimeoutMs);
    const { json, binary } = splitBinaryBody(req, body);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json.toString("utf8"));
    } catch (e) {
      throw new HttpError(400, `malformed JSON in the request body: ${jsonProblem(e)}`);
    }
    const request = parseInferRequest(parsed, served, maxBatch, binary);
    detail.text = ` samples=${request.batch}`;
    const result = await batcher.submit(request.inputs, request.batch);
    detail.text += ` batch=${result.batchSize}`;
    sendBody(res, 200, inferResponse(served, request, request.id ?? randomUUID(), result.outputs), closingHeaders());
  }

  async function dispatch(req: IncomingMessage, res: ServerResponse, r: Route, detail: Detail): Promise<void> {
    const extra = closingHeaders();
    switch (r.endpoint) {
      case "health_live":
        sendEmpty(res, 200, extra);
        return;
      case "health_ready":
        notReady();
        sendEmpty(res, 200, extra);
        return;
      case "server_metadata":
        sendJson(res, 200, serverMetadata(version, EXTENSIONS), extra);
        return;
      case "metrics": {
        const text = metrics.render();
        res.writeHead(200, { ...extra, "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
        res.end(text);
        return;
      }
      case "model_metadata":
        checkModel(r.model, r.version);
        sendJson(res, 200, modelMetadata(model), extra);
        return;
      case "model_ready":
        checkModel(r.model, r.version);
        notReady();
        sendEmpty(res, 200, extra);
        return;
      case "infer":
        checkModel(r.model, r.version);
        if (closing) throw new HttpError(503, "the server is shutting down; send the request elsewhere");
        return infer(req, res, model, detail);
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    let endpoint: Endpoint = "other";
    const detail: Detail = { text: "" };
    inFlight++;
    metrics.inFlight.set(inFlight);
    res.once("close", () => {
      const seconds = (performance.now() - started) / 1000;
      // A client that hangs up mid-upload gets no answer: res.statusCode would still say 200.
      const status = !res.headersSent ? `${CLIENT_GONE} (client closed the connection before the answer)` : res.writableFinished ? String(res.statusCode) : `${res.statusCode} (client gone)`;
      metrics.request(endpoint, res.headersSent ? res.statusCode : CLIENT_GONE, seconds);
      inFlight--;
      metrics.inFlight.set(inFlight);
      log?.(`${new Date().toISOString()} ${method} ${url.slice(0, 200)} ${status} ${(seconds * 1000).toFixed(1)}ms${detail.text}`);
      if (inFlight === 0) {
        const waiters = idle;
        idle = [];
        for (const w of waiters) w();
      }
    });
    const run = async (): Promise<void> => {
      let r: Route | undefined;
      try {
        r = route(url.split("?")[0]!);
      } catch {
        throw new HttpError(400, `the path ${url.slice(0, 200)} is not valid percent-encoding`);
      }
      if (r) endpoint = r.endpoint;
      if (auth && !UNAUTHENTICATED.has(endpoint)) {
        const verdict = auth.check(req.headers.authorization);
        if (verdict !== "ok") {
          const challenge = verdict === "missing" ? 'Bearer realm="meanet"' : 'Bearer realm="meanet", error="invalid_token"';
          throw new HttpError(401, verdict === "missing" ? "missing bearer token: send `Authorization: Bearer <token>`" : "invalid bearer token", { "www-authenticate": challenge });
        }
      }
      if (!r) {
        throw new HttpError(404, `no endpoint at ${url.split("?")[0]!.slice(0, 200)}; this server answers /v2, /v2/health/live, /v2/health/ready, /v2/models/${model.name}[/versions/${model.version}][/ready|/infer] and /metrics`);
      }
      const allowed = r.method === "GET" ? ["GET", "HEAD"] : [r.method];
      if (!allowed.includes(method)) throw new HttpError(405, `${method} is not allowed on ${url.split("?")[0]}; use ${r.method}`, { allow: allowed.join(", ") });
      return dispatch(req, res, r, detail);
    };
    run().catch((e: unknown) => {
      if (e instanceof HttpError) {
        sendError(res, e.status, e.message, { ...e.headers, ...closingHeaders() });
        if (e instanceof BodyTooLarge && e.headers.connection !== "close") res.once("finish", () => discardRest(req));
        return;
      }
      const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
      detail.text += ` error: ${message}`;
      sendError(res, 500, `inference failed: ${message}`, closingHeaders());
    });
  }

  const server: Server = createServer(handle);
  server.keepAliveTimeout = 15_000;
  server.headersTimeout = 20_000;
  // Node's own limit on receiving a whole request, a backstop behind the body timeout above.
  server.requestTimeout = Math.max(120_000, server.headersTimeout + bodyTimeoutMs + 10_000);
  // A client that announces a too-large body with `Expect: 100-continue` gets its 413 before sending it.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (!(Number(req.headers["content-length"]) > maxBodyBytes)) res.writeContinue();
    handle(req, res);
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const [status, reason] = err.code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large"] : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "Request Timeout"] : [400, "Bad Request"];
    const body = JSON.stringify({ error: `malformed HTTP request: ${err.message}` });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? SERVE_DEFAULTS.port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    await engine.release();
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "EADDRINUSE" ? "the address is already in use; pick another --port or stop the other server" : err.code === "EACCES" ? "permission denied" : err.message;
    throw new MeanetError(Codes.OutputFailed, `cannot listen on ${urlOf(host, options.port ?? SERVE_DEFAULTS.port)}: ${why}`);
  }
  // After startup, a server-level error (say, too many open files on accept) is logged, not fatal.
  server.on("error", (e) => log?.(`${new Date().toISOString()} server error: ${e.message}`));

  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;

  async function close(): Promise<void> {
    closing = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const deadline = setTimeout(() => server.closeAllConnections(), shutdownTimeoutMs);
    await batcher.drain();
    if (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
    server.closeIdleConnections();
    await stopped;
    clearTimeout(deadline);
    await engine.release();
  }

  return {
    url: urlOf(host, port),
    host,
    port,
    model: { name: model.name, version: model.version, inputs: model.inputs.map(info), outputs: model.outputs.map(info) },
    metrics,
    close: () => (closed ??= close()),
  };
}
