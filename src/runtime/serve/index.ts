/** The cloud server (`meanet serve`), for embedding: start it on a port, send it KServe v2 requests, close it. */
export { startServer, SERVE_DEFAULTS, CLIENT_GONE, type ServeOptions, type RunningServer, type ModelInfo } from "./server.js";
export { readTokenFile, tokenFileWarning } from "./auth.js";
export type { ServerMetrics, MetricsSnapshot, Endpoint } from "./metrics.js";
export type { EngineThread } from "./engine.js";
