import { readTokenFile, SERVE_DEFAULTS, startServer, tokenFileWarning, type EngineThread, type RunningServer } from "../runtime/serve/index.js";
import { EXIT_ERRORS, EXIT_OK, MeanetError, UsageError } from "../diagnostics/index.js";
import { integerFlag } from "../runtime/argv.js";
import { VERSION } from "../toolchain/package.js";
import { defineCommand } from "./command.js";
import type { Io } from "./io.js";

export const usage = `usage: meanet serve DIR/<model> [--host H] [--port P] [--token-file F]
                    [--max-batch N] [--max-delay-ms T] [--max-body-bytes B] [--body-timeout-ms T]
                    [--inference-thread worker|main] [--ort-threads N]`;

function milliseconds(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > 60_000) throw new UsageError(`--${name} must be a number of milliseconds from 0 to 60000, not \`${text}\``);
  return Number(text);
}

/**
 * Request log lines, written together once per turn of the event loop: one write to stderr per
 * line would cost a system call per request under load.
 */
function batchedLines(write: (text: string) => void): { write(line: string): void; flush(): void } {
  let lines: string[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    const text = lines.join("\n");
    lines = [];
    write(text);
  };
  return {
    write: (line) => {
      if (lines.push(line) === 1) setImmediate(flush);
    },
    flush,
  };
}

const isThread = (t: string): t is EngineThread => t === "worker" || t === "main";

/** Resolves on the first SIGTERM or SIGINT; a second one while shutting down stops the process at once. */
function shutdownSignal(io: Io): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", first).off("SIGINT", first);
      const again = () => {
        io.err("second signal: stopping without waiting for in-flight requests");
        process.exit(EXIT_ERRORS);
      };
      process.once("SIGTERM", again).once("SIGINT", again);
      resolve(signal);
    };
    process.on("SIGTERM", first).on("SIGINT", first);
  });
}

/**
 * SIGHUP rereads the token file: a good token replaces the old one for every request from then
 * on; a bad file keeps the old token and says why. The handler also keeps Node's default for
 * SIGHUP, stopping the process, from cutting the server and its unwritten log lines short.
 * Returns the function that removes the handler.
 */
function rereadTokenOnHangup(tokenFile: string | undefined, log: (line: string) => void, apply: (token: string) => void): () => void {
  const reread = () => {
    const at = new Date().toISOString();
    if (tokenFile === undefined) return log(`${at} SIGHUP: no --token-file to reread; serving on`);
    try {
      const token = readTokenFile(tokenFile);
      const warning = tokenFileWarning(tokenFile);
      if (warning) log(`${at} SIGHUP: ${warning}`);
      apply(token);
      log(`${at} SIGHUP: reread the bearer token from ${tokenFile}; it applies to every request from now on`);
    } catch (e) {
      const why = e instanceof MeanetError ? `${e.code}: ${e.message}` : (e as Error).message;
      log(`${at} SIGHUP: kept the previous bearer token: ${why}`);
    }
  };
  process.on("SIGHUP", reread);
  return () => void process.off("SIGHUP", reread);
}

/** The line printed once the server is ready: the model, and the limits in force. */
function readyLine(server: RunningServer, options: { maxBatch: number; maxDelayMs: number; maxBodyBytes: number | undefined }, tokenRequired: boolean): string {
  const m = server.model;
  const tensors = (ts: typeof m.inputs) => ts.map((t) => `${t.name} ${t.datatype}[${t.shape.join(", ")}]`).join(", ");
  const body = `max body ${server.maxBodyBytes} bytes (${options.maxBodyBytes === undefined ? `the longest well-formed request of ${options.maxBatch} samples, doubled, + 16 KiB` : "--max-body-bytes"})`;
  return `serving ${m.name} version ${m.version}: (${tensors(m.inputs)}) → (${tensors(m.outputs)}); max batch ${options.maxBatch}, max delay ${options.maxDelayMs} ms, ${body}${tokenRequired ? "; bearer token required" : ""}`;
}

/** `meanet serve DIR/<model>`: the cloud partition over the KServe v2 REST API until SIGTERM or SIGINT. */
export const serve = defineCommand({
  usage,
  options: {
    host: { type: "string" },
    port: { type: "string" },
    "token-file": { type: "string" },
    "max-batch": { type: "string" },
    "max-delay-ms": { type: "string" },
    "max-body-bytes": { type: "string" },
    "body-timeout-ms": { type: "string" },
    "inference-thread": { type: "string" },
    "ort-threads": { type: "string" },
  },
  positionals: ["DIR"],
  read(values, [dir]) {
    if (values.host === "") throw new UsageError("--host must not be empty");
    const thread = values["inference-thread"] ?? "worker";
    if (!isThread(thread)) throw new UsageError(`--inference-thread must be worker or main, not \`${thread}\``);
    return {
      tokenFile: values["token-file"],
      options: {
        buildDir: dir!,
        host: values.host ?? SERVE_DEFAULTS.host,
        port: integerFlag("port", values.port, { min: 0, max: 65535 }) ?? SERVE_DEFAULTS.port,
        maxBatch: integerFlag("max-batch", values["max-batch"], { min: 1, max: 65536 }) ?? SERVE_DEFAULTS.maxBatch,
        maxDelayMs: milliseconds("max-delay-ms", values["max-delay-ms"], SERVE_DEFAULTS.maxDelayMs),
        maxBodyBytes: integerFlag("max-body-bytes", values["max-body-bytes"], { min: 1, max: Number.MAX_SAFE_INTEGER }),
        bodyTimeoutMs: integerFlag("body-timeout-ms", values["body-timeout-ms"], { min: 1, max: 600_000 }) ?? SERVE_DEFAULTS.bodyTimeoutMs,
        inferenceThread: thread,
        intraOpThreads: integerFlag("ort-threads", values["ort-threads"], { min: 0, max: 256 }) ?? 0,
        serverVersion: VERSION,
      },
    };
  },
  async run({ tokenFile, options }, io) {
    const requestLog = batchedLines((text) => io.err(text));
    // Listen for signals before the model loads, so a SIGTERM during startup is not the default abrupt exit.
    const signal = shutdownSignal(io);
    let token: string | undefined;
    let server: RunningServer | undefined;
    const stopRereading = rereadTokenOnHangup(
      tokenFile,
      (line) => {
        requestLog.flush();
        io.err(line);
      },
      (t) => {
        token = t;
        server?.setToken(t);
      },
    );
    try {
      token = tokenFile !== undefined ? readTokenFile(tokenFile) : undefined;
      const warning = tokenFile !== undefined ? tokenFileWarning(tokenFile) : undefined;
      if (warning) io.err(warning);
      server = await startServer({ ...options, log: (line: string) => requestLog.write(line), ...(token !== undefined ? { token } : {}) });
      // A token reread while the model loaded.
      if (token !== undefined) server.setToken(token);
      io.err(readyLine(server, options, tokenFile !== undefined));
      io.out(`listening on ${server.url}`);

      const received = await signal;
      io.err(`${received}: finishing in-flight requests (at most ${SERVE_DEFAULTS.shutdownTimeoutMs / 1000} s, then their connections are closed), then stopping; a second signal stops at once`);
      await server.close();
      requestLog.flush();
      io.err("stopped");
      return EXIT_OK;
    } finally {
      stopRereading();
    }
  },
});
