/**
 * Throughput and latency of `meanet serve` under load, against onnxruntime in-process running the
 * batches the server formed.
 *
 *   node --import tsx bench/serve.ts [--json] [--seconds S] [--rounds R] [--clients C] [--warmup S]
 *                                    [--client raw|http] [--binary] [--max-batch N] [--max-delay-ms T]
 *                                    [--inference-thread worker|main] [--ort-threads N] [--profile DIR]
 *
 * The Fashion-MNIST example is compiled into a temporary directory and exported with seeded
 * random weights; `node bin/meanet.js serve` (the built dist/, so run `npm run build` first)
 * serves its cloud partition on a loopback port, as a child process. C keep-alive clients in this
 * process each send single-image infer requests one after another, a fresh random image every
 * time, as a JSON array (or, with --binary, as raw bytes after the JSON: the binary tensor
 * extension). A request fails unless it gets a 200 with 10 probabilities. The default client
 * writes HTTP/1.1 on raw sockets, like wrk, so the load generator takes little of the machine's
 * CPU; `--client http` uses node:http with a keep-alive Agent instead.
 *
 * After a warm-up, S seconds are timed in R rounds. After each round the clients pause, and
 * onnxruntime replays in this process exactly the batches the server ran in that round (their
 * sizes from /metrics, meanet_inference_batches_by_size_total; tensor creation and output read
 * included), once with onnxruntime's defaults and once with the server's session options;
 * interleaving keeps load changes on a shared machine from favouring either side.
 * `throughputRatio` = server requests/s ÷ in-process samples/s with onnxruntime's defaults.
 * The last line with --json is one JSON object. --profile DIR writes the server's CPU profile there.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { compile } from "../src/cli/compile.js";
import { exportCommand } from "../src/cli/export.js";
import { RawConnection } from "./rawHttp.js";
import { startServe } from "./serveChild.js";
import { cpuSecondsOf, meanet, percentile, round } from "./common.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    seconds: { type: "string" },
    clients: { type: "string" },
    warmup: { type: "string" },
    "max-batch": { type: "string" },
    "max-delay-ms": { type: "string" },
    profile: { type: "string" },
    "inference-thread": { type: "string" },
    "ort-threads": { type: "string" },
    client: { type: "string" },
    rounds: { type: "string" },
    binary: { type: "boolean" },
  },
});

function count(name: keyof typeof values, fallback: number, min = 1): number {
  const text = values[name];
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isFinite(value) || value < min) throw new Error(`--${name} takes a number ≥ ${min}`);
  return value;
}

const seconds = count("seconds", 20);
const clients = Math.floor(count("clients", 64));
const warmup = count("warmup", 3, 0);
const maxBatch = Math.floor(count("max-batch", 64));
const maxDelayMs = count("max-delay-ms", 2, 0);
const inferenceThread = values["inference-thread"] ?? "worker";
const clientKind = values.client ?? "raw";
/** Send the image as raw bytes after the JSON (binary tensor extension) instead of a JSON array. */
const binary = values.binary ?? false;
if (clientKind !== "raw" && clientKind !== "http") throw new Error("--client takes raw or http");
/** onnxruntime threads in the server's session; 0 leaves onnxruntime's default (one per core), as `meanet serve` does. */
const serverThreads = Math.floor(count("ort-threads", 0, 0));
/** The server's session options (src/runtime/serve/engine.ts): its threads, no spinning. */
const serverOptions = { ...(serverThreads ? { intraOpNumThreads: serverThreads } : {}), extra: { session: { intra_op: { allow_spinning: "0" } } } };
const rounds = Math.floor(count("rounds", 4));
const PIXELS = 28 * 28;
const MODEL = "fashion_mnist";

if (!existsSync("dist/cli/serve.js")) throw new Error("dist/cli/serve.js is missing: run `npm run build` first (the server runs bin/meanet.js)");





/** Exact batch-size counts from the server's Prometheus text, and its seconds spent in onnxruntime. */
function scrape(metrics: string): { counts: Map<number, number>; runSeconds: number } {
  const counts = new Map<number, number>();
  for (const m of metrics.matchAll(/^meanet_inference_batches_by_size_total\{size="(\d+)"\} (\d+)$/gm)) counts.set(Number(m[1]), Number(m[2]));
  const run = /^meanet_inference_run_duration_seconds_sum (\S+)$/m.exec(metrics);
  return { counts, runSeconds: run ? Number(run[1]) : 0 };
}

const tmp = mkdtempSync(join(tmpdir(), "meanet-bench-serve-"));
const child = { kill: () => {} } as { kill: (s?: NodeJS.Signals) => void };
try {
  await meanet(compile, ["examples/fashion-mnist.meanet", "-o", tmp]);
  const buildDir = join(tmp, MODEL);
  await meanet(exportCommand, [buildDir, "--random-weights", "--seed", "1"]);

  // The server, as `meanet serve` runs it; its per-request log lines are read and dropped.
  const profile = values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [];
  const serve = await startServe(profile, "bin/meanet.js", [buildDir, "--port", "0", "--max-batch", String(maxBatch), "--max-delay-ms", String(maxDelayMs), "--inference-thread", inferenceThread, "--ort-threads", String(serverThreads)]);
  child.kill = (s) => serve.process.kill(s);
  const { url, exited } = serve;
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const path = `/v2/models/${MODEL}/infer`;

  function get(p: string): Promise<string> {
    return new Promise((resolve, reject) => {
      request({ host: url.hostname, port: url.port, path: p, agent }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve(text));
      })
        .on("error", reject)
        .end();
    });
  }

  /** A reply counts as good with status 200 and ten probabilities. */
  const good = (status: number | undefined, text: string) => {
    if (status !== 200) return false;
    try {
      return (JSON.parse(text) as { outputs: { data: number[] }[] }).outputs[0]!.data.length === 10;
    } catch {
      return false;
    }
  };

  /** node:http through a keep-alive Agent. */
  /** A request body: JSON alone, or JSON followed by the image's bytes (binary tensor extension). */
  interface Body {
    data: string | Buffer;
    headers: Record<string, string>;
  }
  const BINARY_HEADER = JSON.stringify({ inputs: [{ name: "image", shape: [1, 28, 28, 1], datatype: "UINT8", parameters: { binary_data_size: PIXELS } }] });
  const bodyOf = (image: Uint8Array): Body =>
    binary
      ? {
          data: Buffer.concat([Buffer.from(BINARY_HEADER), image]),
          headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(Buffer.byteLength(BINARY_HEADER)) },
        }
      : { data: JSON.stringify({ inputs: [{ name: "image", shape: [1, 28, 28, 1], datatype: "UINT8", data: Array.from(image) }] }), headers: { "content-type": "application/json" } };

  function httpClient(): (body: Body) => Promise<boolean> {
    return (body) =>
      new Promise((resolve) => {
        const headers = { ...body.headers, "content-length": String(Buffer.byteLength(body.data)) };
        const req = request({ host: url.hostname, port: url.port, path, method: "POST", agent, headers }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve(good(res.statusCode, text)));
          res.on("error", () => resolve(false));
        });
        req.on("error", () => resolve(false));
        req.end(body.data);
      });
  }

  /** A raw keep-alive connection (bench/rawHttp.ts): cheap per request, like wrk. */
  function rawClient(): (body: Body) => Promise<boolean> {
    const connection = new RawConnection(url.hostname, Number(url.port));
    return async (body) => {
      const reply = await connection.send(path, body.headers, body.data);
      return reply !== undefined && good(reply.status, reply.body);
    };
  }

  // Clients run from the start. The timed part is `rounds` windows of seconds/rounds each; after
  // each window the clients pause and onnxruntime replays in-process the batches the server
  // formed in it, so a change of load on a shared machine hits both sides alike.
  let phase: "warmup" | "timed" | "paused" | "done" = "warmup";
  let resume: Promise<void> = Promise.resolve();
  let resumeNow = () => {};
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  async function client(seed: number): Promise<void> {
    const send = clientKind === "raw" ? rawClient() : httpClient();
    let a = seed >>> 0 || 1;
    const image = new Uint8Array(PIXELS);
    while (phase !== "done") {
      if (phase === "paused") {
        await resume;
        continue;
      }
      for (let i = 0; i < PIXELS; i++) {
        a ^= a << 13;
        a ^= a >>> 17;
        a ^= a << 5;
        image[i] = a & 0xff;
      }
      const started = performance.now();
      const answered = await send(bodyOf(image));
      const ms = performance.now() - started;
      if (phase !== "timed") continue;
      latencies.push(ms);
      if (answered) ok++;
      else failed++;
    }
  }

  // onnxruntime in-process: its defaults (the best it does alone) and the server's session options.
  const modelPath = join(buildDir, "cloud", "model.onnx");
  const sessions = {
    best: await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: "all" }),
    same: await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: "all", ...serverOptions }),
  };
  const images = new Uint8Array(maxBatch * PIXELS).map((_, i) => (i * 2654435761) >>> 24);
  const runIn = async (session: ort.InferenceSession, n: number) => {
    const out = await session.run({ image: new ort.Tensor("uint8", images.slice(0, n * PIXELS), [n, 28, 28, 1]) });
    return out.probs_cloud!.data as Float32Array;
  };
  for (let i = 0; i < 5; i++) for (const s of Object.values(sessions)) await runIn(s, maxBatch);
  /** Seconds to run these batches, as the server ran them. */
  const replay = async (session: ort.InferenceSession, batches: Map<number, number>) => {
    const t = performance.now();
    for (const [size, n] of batches) for (let i = 0; i < n; i++) await runIn(session, size);
    return (performance.now() - t) / 1000;
  };

  const running = Array.from({ length: clients }, (_, i) => client(0x9e3779b9 * (i + 1)));
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const formed = new Map<number, number>();
  let timed = 0;
  let serverRunSeconds = 0;
  let serverCpu = 0;
  let clientCpu = 0;
  let bestSeconds = 0;
  let sameSeconds = 0;
  const loads: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const before = scrape(await get("/metrics"));
    phase = "timed";
    const serverCpu0 = cpuSecondsOf(serve.process.pid);
    const clientCpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((done) => setTimeout(done, (seconds * 1000) / rounds));
    resume = new Promise((go) => (resumeNow = go));
    phase = "paused";
    timed += (performance.now() - t0) / 1000;
    serverCpu += cpuSecondsOf(serve.process.pid) - serverCpu0;
    const u = process.cpuUsage(clientCpu0);
    clientCpu += (u.user + u.system) / 1e6;
    // Let the requests in flight finish, so the batches below are all of this window's.
    await new Promise((done) => setTimeout(done, 100));
    const after = scrape(await get("/metrics"));
    loads.push(loadavg()[0]!);
    const round = new Map<number, number>();
    for (const [size, n] of after.counts) if (n - (before.counts.get(size) ?? 0) > 0) round.set(size, n - (before.counts.get(size) ?? 0));
    for (const [size, n] of round) formed.set(size, (formed.get(size) ?? 0) + n);
    serverRunSeconds += after.runSeconds - before.runSeconds;
    bestSeconds += await replay(sessions.best, round);
    sameSeconds += await replay(sessions.same, round);
    if (r < rounds - 1) {
      phase = "warmup";
      resumeNow();
      await new Promise((done) => setTimeout(done, 500));
    }
  }
  phase = "done";
  resumeNow();
  await Promise.all(running);
  agent.destroy();
  RawConnection.destroyAll();
  serve.process.kill("SIGTERM");
  const exitCode = await exited;
  for (const s of Object.values(sessions)) await s.release();

  const batches = [...formed.values()].reduce((a, b) => a + b, 0);
  const samples = [...formed.entries()].reduce((s, [size, n]) => s + size * n, 0);
  const sorted = [...latencies].sort((a, b) => a - b);
  const serverThroughput = ok / timed;
  const sizes = [...formed.keys()].sort((a, b) => a - b);
  const result = {
    bench: "serve",
    model: `${MODEL}/cloud`,
    clients,
    client: clientKind,
    encoding: binary ? "binary" : "json",
    seconds: round(timed, 2),
    rounds,
    requests: ok + failed,
    failed,
    requestsPerSecond: round(serverThroughput, 1),
    p50Ms: round(percentile(sorted, 50), 2),
    p90Ms: round(percentile(sorted, 90), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    maxMs: round(sorted[sorted.length - 1] ?? NaN, 2),
    batches,
    meanBatch: round(samples / batches, 2),
    batchSizes: Object.fromEntries(sizes.map((s) => [s, formed.get(s)!])),
    /** onnxruntime alone with its defaults, on the same batches: samples/s, and the server's share of it. */
    inProcessThroughput: round(samples / bestSeconds, 1),
    throughputRatio: round(serverThroughput / (samples / bestSeconds), 3),
    /** The same with the server's session options (its thread count, no spinning). */
    inProcessThroughputSameThreads: round(samples / sameSeconds, 1),
    throughputRatioSameThreads: round(serverThroughput / (samples / sameSeconds), 3),
    /** Share of the timed windows the server spent inside onnxruntime, and its samples/s while there. */
    serverOrtBusy: round(serverRunSeconds / timed, 3),
    serverOrtThroughput: round(samples / serverRunSeconds, 1),
    /** Cores busy in the server process and in the clients (this process) during the timed windows. */
    serverCpuCores: round(serverCpu / timed, 2),
    clientCpuCores: round(clientCpu / timed, 2),
    maxBatch,
    maxDelayMs,
    inferenceThread,
    ortThreads: serverThreads || "default",
    serverExitCode: exitCode,
    serverLogLines: serve.logLines(),
    cores: availableParallelism(),
    loadAverage: round(Math.max(...loads), 2),
    versions: { node: process.versions.node, onnxruntime: ort.env.versions.node ?? ort.env.versions.common },
  };
  if (!values.json) {
    console.log(`meanet serve, ${MODEL} cloud partition: ${clients} keep-alive ${clientKind} clients, single-image ${binary ? "binary" : "JSON"} requests, ${result.seconds} s timed in ${rounds} rounds`);
    console.log(`requests ${result.requests} (${failed} failed), ${result.requestsPerSecond} req/s; latency p50 ${result.p50Ms} ms, p90 ${result.p90Ms} ms, p99 ${result.p99Ms} ms`);
    console.log(`batches ${batches}, mean size ${result.meanBatch}; sizes ${sizes.map((s) => `${s}×${formed.get(s)}`).join(" ")}`);
    console.log(`onnxruntime in the server (${inferenceThread} thread, ${serverThreads || "default"} threads): busy ${(result.serverOrtBusy * 100).toFixed(1)}% of the time, ${result.serverOrtThroughput} samples/s while running`);
    console.log(`onnxruntime in-process on the same batches: ${result.inProcessThroughput} samples/s with onnxruntime's defaults (ratio ${result.throughputRatio}), ${result.inProcessThroughputSameThreads} with the server's options (ratio ${result.throughputRatioSameThreads})`);
    console.log(`CPU: server ${result.serverCpuCores} cores, clients ${result.clientCpuCores} cores of ${result.cores}; load average up to ${result.loadAverage}`);
    console.log(`server exit code ${exitCode}`);
  }
  console.log(JSON.stringify(result));
} finally {
  child.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
}
