import { readTokenFile, SERVE_DEFAULTS, startServer, type EngineThread, type RunningServer } from "../runtime/serve/index.js";
import { parseCommandArgs } from "./args.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { VERSION } from "../toolchain/package.js";
import { MeanetError } from "../diagnostics/index.js";

export const usage = `usage: meanet serve DIR/<model> [--host H] [--port P] [--token-file F]
                    [--max-batch N] [--max-delay-ms T] [--max-body-bytes B] [--body-timeout-ms T]
                    [--inference-thread worker|main] [--ort-threads N]`;

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, not \`${text}\`\n${usage}`);
  return Number(text);
}

function milliseconds(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > 60_000) throw new UsageError(`--${name} must be a number of milliseconds from 0 to 60000, not \`${text}\`\n${usage}`);
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

/** `meanet serve DIR/<model>`: the cloud partition over the KServe v2 REST API until SIGTERM or SIGINT. */
export async function serve(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      host: { type: "string" },
      port: { type: "string" },
      "token-file": { type: "string" },
      "max-batch": { type: "string" },
      "max-delay-ms": { type: "string" },
      "max-body-bytes": { type: "string" },
      "body-timeout-ms": { type: "string" },
      "inference-thread": { type: "string" },
      "ort-threads": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    usage,
    { min: 0, max: 1 },
  );
  if (values.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(usage);
  if (values.host === "") throw new UsageError(`--host must not be empty\n${usage}`);
  const thread = values["inference-thread"] ?? "worker";
  if (!isThread(thread)) throw new UsageError(`--inference-thread must be worker or main, not \`${thread}\`\n${usage}`);
  const options = {
    buildDir: positionals[0]!,
    host: values.host ?? SERVE_DEFAULTS.host,
    port: integer("port", values.port, SERVE_DEFAULTS.port, 0, 65535),
    maxBatch: integer("max-batch", values["max-batch"], SERVE_DEFAULTS.maxBatch, 1, 65536),
    maxDelayMs: milliseconds("max-delay-ms", values["max-delay-ms"], SERVE_DEFAULTS.maxDelayMs),
    maxBodyBytes: integer("max-body-bytes", values["max-body-bytes"], SERVE_DEFAULTS.maxBodyBytes, 1, Number.MAX_SAFE_INTEGER),
    bodyTimeoutMs: integer("body-timeout-ms", values["body-timeout-ms"], SERVE_DEFAULTS.bodyTimeoutMs, 1, 600_000),
    inferenceThread: thread,
    intraOpThreads: integer("ort-threads", values["ort-threads"], 0, 0, 256),
    serverVersion: VERSION,
    log: (line: string) => requestLog.write(line),
  };

  const requestLog = batchedLines((text) => io.err(text));
  // Listen for signals before the model loads, so a SIGTERM during startup is not the default abrupt exit.
  const signal = shutdownSignal(io);
  let server: RunningServer;
  try {
    const token = values["token-file"] !== undefined ? readTokenFile(values["token-file"]) : undefined;
    server = await startServer({ ...options, ...(token !== undefined ? { token } : {}) });
  } catch (e) {
    if (e instanceof MeanetError) {
      io.err(`error ${e.code}: ${e.message}`);
      return EXIT_ERRORS;
    }
    throw e;
  }
  const m = server.model;
  const tensors = (ts: typeof m.inputs) => ts.map((t) => `${t.name} ${t.datatype}[${t.shape.join(", ")}]`).join(", ");
  io.err(
    `serving ${m.name} version ${m.version}: (${tensors(m.inputs)}) → (${tensors(m.outputs)}); ` +
      `max batch ${options.maxBatch}, max delay ${options.maxDelayMs} ms${values["token-file"] !== undefined ? "; bearer token required" : ""}`,
  );
  io.out(`listening on ${server.url}`);

  const received = await signal;
  io.err(`${received}: finishing in-flight requests (at most ${SERVE_DEFAULTS.shutdownTimeoutMs / 1000} s, then their connections are closed), then stopping; a second signal stops at once`);
  await server.close();
  requestLog.flush();
  io.err("stopped");
  return EXIT_OK;
}
