/**
 * The request handler: routes a request to its endpoint, checks its token and method, parses it,
 * answers it, and records it in the metrics and the log.
 *
 * Routing is a fixed table (see `route`); every failure becomes a status and `{"error": "..."}`,
 * and no exception escapes a request handler, so one bad request cannot take the server down.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { jsonProblem } from "../../format/build.js";
import type { BearerAuth } from "./auth.js";
import type { Batcher } from "./batcher.js";
import { declaredLength, type LargeBodies } from "./bodies.js";
import type { Engine } from "./engine.js";
import { BodyTooLarge, discardRest, readBody, sendBody, sendEmpty, sendError, sendJson, splitBinaryBody } from "./http.js";
import type { Endpoint, ServerMetrics } from "./metrics.js";
import type { ServedModel } from "./model.js";
import { HttpError, inferResponse, modelMetadata, parseInferRequest, serverMetadata } from "./protocol.js";

/** The status metrics record for a request whose client went away before any answer (nginx's "client closed request"). */
export const CLIENT_GONE = 499;

/** Binary tensor data (Triton's extension) in requests and responses. */
const EXTENSIONS = ["binary_tensor_data"];

const UNAUTHENTICATED: ReadonlySet<Endpoint> = new Set(["health_live", "health_ready"]);

/** Requests received and not yet answered, and whether the server is shutting down. */
export class RequestTracker {
  /** Set once shutdown begins: no new inference, not ready, and every response closes its connection. */
  closing = false;
  private count = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly metrics: ServerMetrics) {}

  get inFlight(): number {
    return this.count;
  }

  started(): void {
    this.count++;
    this.metrics.inFlight.set(this.count);
  }

  finished(): void {
    this.count--;
    this.metrics.inFlight.set(this.count);
    if (this.count > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once no request is in flight (call it while one is). */
  idle(): Promise<void> {
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** While shutting down, every response closes its connection so keep-alive clients let go. */
  headers(): Record<string, string> {
    return this.closing ? { connection: "close" } : {};
  }
}

/** What the handler works with; the server owns all of it. */
export interface HandlerContext {
  model: ServedModel;
  /** Reported by GET /v2. */
  serverVersion: string;
  engine: Pick<Engine, "failure">;
  batcher: Batcher;
  metrics: ServerMetrics;
  requests: RequestTracker;
  /** Replaced when the token is reread (SIGHUP); read afresh by every request. */
  auth: BearerAuth | undefined;
  maxBatch: number;
  maxBodyBytes: number;
  /** Bodies above this many bytes (or of unknown length) wait for a turn from `largeBodies`. */
  largeBodyBytes: number;
  largeBodies: LargeBodies;
  bodyTimeoutMs: number;
  log: ((line: string) => void) | undefined;
}

type Route =
  | { endpoint: "server_metadata" | "health_live" | "health_ready" | "metrics"; method: "GET" }
  | { endpoint: "model_metadata" | "model_ready"; method: "GET"; model: string; version: string | undefined }
  | { endpoint: "infer"; method: "POST"; model: string; version: string | undefined };

/** What the metrics and the log line say about a request; filled in while it is handled, before its response goes out. */
interface Exchange {
  endpoint: Endpoint;
  /** The log line's end: samples and batch of an inference, or the error of a failure. */
  detail: string;
}

/** Answers one request; never throws, and records it once its response is done or its client gone. */
export function handleRequest(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  const method = req.method ?? "GET";
  const url = req.url ?? "/";
  const exchange: Exchange = { endpoint: "other", detail: "" };
  ctx.requests.started();
  res.once("close", () => {
    const seconds = (performance.now() - started) / 1000;
    // A client that hangs up mid-upload gets no answer: res.statusCode would still say 200.
    const status = !res.headersSent ? `${CLIENT_GONE} (client closed the connection before the answer)` : res.writableFinished ? String(res.statusCode) : `${res.statusCode} (client gone)`;
    ctx.metrics.request(exchange.endpoint, res.headersSent ? res.statusCode : CLIENT_GONE, seconds);
    ctx.requests.finished();
    ctx.log?.(`${new Date().toISOString()} ${method} ${loggedTarget(url)} ${status} ${(seconds * 1000).toFixed(1)}ms${exchange.detail}`);
  });
  const answer = async (): Promise<void> => dispatch(ctx, req, res, admit(ctx, req, method, url, exchange), exchange);
  answer().catch((e: unknown) => fail(ctx, req, res, e, exchange));
}

/** Query parameters whose names the log keeps; a longer or odder name is replaced as a whole. */
const LOGGED_NAME = /^[A-Za-z0-9_.-]{1,40}$/;
const REDACTED = "<redacted>";

/**
 * The request target as the log shows it: the path, and of the query only the parameters' names
 * (`/v2?token=<redacted>`), so a token or other secret sent in a query string never reaches the
 * log. A parameter without `=`, or whose name is not a plain word, is redacted whole.
 */
export function loggedTarget(url: string): string {
  const q = url.indexOf("?");
  const path = (q < 0 ? url : url.slice(0, q)).slice(0, 200);
  if (q < 0) return path;
  const params = url
    .slice(q + 1)
    .split("&")
    .filter((p) => p !== "")
    .map((p) => {
      const eq = p.indexOf("=");
      return eq > 0 && LOGGED_NAME.test(p.slice(0, eq)) ? `${p.slice(0, eq)}=${REDACTED}` : REDACTED;
    });
  return `${path}?${params.slice(0, 10).join("&")}${params.length > 10 ? `&…(${params.length - 10} more)` : ""}`;
}

/** The route of a request it may take: a known path, a valid token where one is needed, an allowed method. */
function admit(ctx: HandlerContext, req: IncomingMessage, method: string, url: string, exchange: Exchange): Route {
  const path = url.split("?")[0]!;
  let r: Route | undefined;
  try {
    r = route(path);
  } catch {
    throw new HttpError(400, `the path ${path.slice(0, 200)} is not valid percent-encoding`);
  }
  if (r) exchange.endpoint = r.endpoint;
  if (ctx.auth && !UNAUTHENTICATED.has(exchange.endpoint)) {
    const verdict = ctx.auth.check(req.headers.authorization);
    if (verdict !== "ok") {
      const challenge = verdict === "missing" ? 'Bearer realm="meanet"' : 'Bearer realm="meanet", error="invalid_token"';
      throw new HttpError(401, verdict === "missing" ? "missing bearer token: send `Authorization: Bearer <token>`" : "invalid bearer token", { "www-authenticate": challenge });
    }
  }
  if (!r) {
    const { model } = ctx;
    throw new HttpError(404, `no endpoint at ${path.slice(0, 200)}; this server answers /v2, /v2/health/live, /v2/health/ready, /v2/models/${model.name}[/versions/${model.version}][/ready|/infer] and /metrics`);
  }
  const allowed = r.method === "GET" ? ["GET", "HEAD"] : [r.method];
  if (!allowed.includes(method)) throw new HttpError(405, `${method} is not allowed on ${path}; use ${r.method}`, { allow: allowed.join(", ") });
  return r;
}

/** Routes of the paths seen, for the few a server is sent over and over; unknown paths are not kept. */
const ROUTES = new Map<string, Route>();
const ROUTES_KEPT = 64;

/** The endpoint a path names, or undefined (a bad percent-encoding throws). */
function route(path: string): Route | undefined {
  const known = ROUTES.get(path);
  if (known) return known;
  const r = parseRoute(path);
  if (r && ROUTES.size < ROUTES_KEPT) ROUTES.set(path, r);
  return r;
}

/** The endpoint a path names, or undefined. Paths are case-sensitive, as the protocol says. */
function parseRoute(path: string): Route | undefined {
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

async function dispatch(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, r: Route, exchange: Exchange): Promise<void> {
  const extra = ctx.requests.headers();
  switch (r.endpoint) {
    case "health_live":
      sendEmpty(res, 200, extra);
      return;
    case "health_ready":
      checkReady(ctx);
      sendEmpty(res, 200, extra);
      return;
    case "server_metadata":
      sendJson(res, 200, serverMetadata(ctx.serverVersion, EXTENSIONS), extra);
      return;
    case "metrics": {
      const text = ctx.metrics.render();
      res.writeHead(200, { ...extra, "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    case "model_metadata":
      checkModel(ctx.model, r.model, r.version);
      sendJson(res, 200, modelMetadata(ctx.model), extra);
      return;
    case "model_ready":
      checkModel(ctx.model, r.model, r.version);
      checkReady(ctx);
      sendEmpty(res, 200, extra);
      return;
    case "infer":
      checkModel(ctx.model, r.model, r.version);
      if (ctx.requests.closing) throw new HttpError(503, "the server is shutting down; send the request elsewhere");
      return infer(ctx, req, res, exchange);
  }
}

/** Not ready while shutting down, or once the inference engine has failed for good. */
function checkReady(ctx: HandlerContext): void {
  if (ctx.requests.closing) throw new HttpError(503, "the server is shutting down");
  const failure = ctx.engine.failure();
  if (failure) throw new HttpError(503, `the model cannot run: ${failure.message}`);
}

function checkModel(model: ServedModel, name: string, version: string | undefined): void {
  if (name !== model.name) throw new HttpError(404, `unknown model \`${name}\`; this server serves \`${model.name}\``);
  if (version !== undefined && version !== model.version) throw new HttpError(404, `model \`${name}\` has no version \`${version}\`; its only version is \`${model.version}\``);
}

/**
 * Refuses a body whose Content-Length is over the limit before reading any of it. A large body (or
 * a chunked one, of unknown length) waits for a turn to be read, then, still holding it, for a turn
 * to be served (bodies.ts); a small one goes straight on.
 */
async function infer(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > ctx.maxBodyBytes) throw new BodyTooLarge(ctx.maxBodyBytes, `of ${declared} bytes`, declared);
  const large = declared === undefined ? req.headers["transfer-encoding"] !== undefined : declared > ctx.largeBodyBytes;
  if (!large) return answerInference(ctx, req, res, exchange, await readBody(req, ctx.maxBodyBytes, ctx.bodyTimeoutMs));
  const endReading = await ctx.largeBodies.reading.take(res);
  let body: Buffer;
  let endServing: () => void;
  try {
    body = await readBody(req, ctx.maxBodyBytes, ctx.bodyTimeoutMs);
    endServing = await ctx.largeBodies.serving.take(res);
  } finally {
    endReading();
  }
  try {
    await answerInference(ctx, req, res, exchange, body);
  } finally {
    endServing();
  }
}

async function answerInference(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, exchange: Exchange, body: Buffer): Promise<void> {
  const { json, binary } = splitBinaryBody(req, body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString("utf8"));
  } catch (e) {
    throw new HttpError(400, `malformed JSON in the request body: ${jsonProblem(e)}`);
  }
  const request = parseInferRequest(parsed, ctx.model, ctx.maxBatch, binary);
  exchange.detail = ` samples=${request.batch}`;
  const result = await ctx.batcher.submit(request.inputs, request.batch);
  exchange.detail += ` batch=${result.batchSize}`;
  sendBody(res, 200, inferResponse(ctx.model, request, request.id ?? randomUUID(), result.outputs), ctx.requests.headers());
}

/** An HttpError is its status; anything else is a 500 whose message the log line keeps too. */
function fail(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, e: unknown, exchange: Exchange): void {
  if (e instanceof HttpError) {
    sendError(res, e.status, e.message, { ...e.headers, ...ctx.requests.headers() });
    if (e instanceof BodyTooLarge && e.headers.connection !== "close") res.once("finish", () => discardRest(req));
    return;
  }
  const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
  exchange.detail += ` error: ${message}`;
  sendError(res, 500, `inference failed: ${message}`, ctx.requests.headers());
}
