/**
 * `meanet serve` measured on its own core: the server pinned to one core with onnxruntime at one
 * intra-op thread, the load generator pinned to the other, and onnxruntime in-process on the
 * server's core as the baseline, replaying exactly the batches the server formed.
 *
 *   npm run build                    # the server runs bin/meanet.js, i.e. dist/
 *   node --import tsx bench/serveIsolated.ts [--json] [--seconds S] [--clients 1,4,16,64]
 *        [--open-seconds S] [--open-rates 0.5,0.8] [--server-core N] [--load-core N]
 *        [--max-batch N] [--max-delay-ms T] [--inference-thread worker|main] [--binary]
 *        [--meanet PATH] [--profile DIR]
 *
 * Needs `taskset` (util-linux) and `wrk` (Debian package `wrk`). The Fashion-MNIST example is
 * compiled into a temporary directory and exported with seeded random weights; its cloud partition
 * is served. Every request is one 28×28 image, the same seeded random image each time, as a JSON
 * array (or, with --binary, raw bytes after the JSON header: the binary tensor extension).
 *
 * Closed loop: for each client count C, wrk (one thread, C keep-alive connections) runs for a
 * warm-up of 2 s, then S seconds timed. /metrics before and after gives the batches the server
 * ran, the mean batch, and per request the time in the queue and the onnxruntime run of its
 * batch. The server's CPU comes from /proc. Then onnxruntime in a separate process pinned to the
 * server's core runs the same batches: `ratio` = server requests/s ÷ in-process samples/s. The
 * server's CPU per request outside onnxruntime = (server CPU − the baseline's seconds for the
 * same batches) ÷ requests.
 *
 * Open loop: bench/openLoop.ts, pinned to the load core, sends at fixed rates (fractions of the
 * highest closed-loop throughput) and measures each latency from the request's intended send
 * time, so a stalled server is charged for the requests it held back.
 *
 * The floor: bench/httpFloor.ts, a bare node:http server that reads and parses the same requests
 * and answers a fixed response, pinned to the server's core under the highest client count: the
 * CPU per request that node:http and JSON.parse take before any of meanet's work.
 *
 * --meanet PATH serves with the bin/meanet.js of another checkout (its dist/ built), to compare
 * servers with the same load. --profile DIR writes the server's .cpuprofile there and prints where
 * its CPU went. The last line with --json is one JSON object.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { compile } from "../src/cli/compile.js";
import { exportCommand } from "../src/cli/export.js";
import { startServe } from "./serveChild.js";
import { cpuSecondsOf, meanet, round } from "./common.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    seconds: { type: "string" },
    clients: { type: "string" },
    "open-seconds": { type: "string" },
    "open-rates": { type: "string" },
    "server-core": { type: "string" },
    "load-core": { type: "string" },
    "max-batch": { type: "string" },
    "max-delay-ms": { type: "string" },
    "inference-thread": { type: "string" },
    binary: { type: "boolean" },
    meanet: { type: "string" },
    profile: { type: "string" },
  },
});

function numberOption(name: keyof typeof values, fallback: number, min = 0): number {
  const text = values[name];
  const value = text === undefined ? fallback : Number(text);
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) throw new Error(`--${name} takes a number ≥ ${min}`);
  return value;
}
function listOption(name: keyof typeof values, fallback: number[]): number[] {
  const text = values[name];
  if (text === undefined) return fallback;
  const list = String(text).split(",").map(Number);
  if (list.some((v) => !Number.isFinite(v) || v <= 0)) throw new Error(`--${name} takes a comma-separated list of positive numbers`);
  return list;
}

const seconds = numberOption("seconds", 10, 1);
const levels = listOption("clients", [1, 4, 16, 64]).map(Math.floor);
const openSeconds = numberOption("open-seconds", 10, 1);
const openRates = listOption("open-rates", [0.5, 0.8]);
const serverCore = Math.floor(numberOption("server-core", 0));
const loadCore = Math.floor(numberOption("load-core", 1));
const maxBatch = Math.floor(numberOption("max-batch", 64, 1));
const maxDelayMs = numberOption("max-delay-ms", 2);
const inferenceThread = values["inference-thread"] ?? "worker";
const binary = values.binary ?? false;
const meanetBin = resolve(values.meanet ?? "bin/meanet.js");
const MODEL = "fashion_mnist";
const PIXELS = 28 * 28;
const WARMUP_SECONDS = 2;

for (const tool of ["taskset", "wrk"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: apt-get install -y ${tool === "wrk" ? "wrk" : "util-linux"}`);
}
if (availableParallelism() < 2 || serverCore === loadCore) throw new Error("needs two cores: one for the server, one for the load generator (--server-core, --load-core)");
if (!existsSync(join(meanetBin, "..", "..", "dist", "cli", "serve.js"))) throw new Error(`${meanetBin}: its dist/ is not built (npm run build)`);



interface Scrape {
  batches: Map<number, number>;
  runSeconds: number;
  queueSeconds: number;
  queueCount: number;
  requestRunSeconds: number;
  ok: number;
}
function scrape(text: string): Scrape {
  const batches = new Map<number, number>();
  for (const m of text.matchAll(/^meanet_inference_batches_by_size_total\{size="(\d+)"\} (\d+)$/gm)) batches.set(Number(m[1]), Number(m[2]));
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return {
    batches,
    runSeconds: value("meanet_inference_run_duration_seconds_sum"),
    queueSeconds: value("meanet_inference_queue_duration_seconds_sum"),
    queueCount: value("meanet_inference_queue_duration_seconds_count"),
    requestRunSeconds: value("meanet_inference_request_run_duration_seconds_sum"),
    ok: value('meanet_http_requests_total\\{endpoint="infer",code="200"\\}'),
  };
}
function difference(before: Scrape, after: Scrape) {
  const batches: Record<number, number> = {};
  for (const [size, n] of after.batches) if (n > (before.batches.get(size) ?? 0)) batches[size] = n - (before.batches.get(size) ?? 0);
  const count = Object.values(batches).reduce((a, b) => a + b, 0);
  const samples = Object.entries(batches).reduce((s, [size, n]) => s + Number(size) * n, 0);
  // Requests answered 200; the per-request queue and run times need a server that reports them.
  const requests = after.ok - before.ok;
  const timedRequests = after.queueCount - before.queueCount;
  return {
    batches,
    batchCount: count,
    samples,
    meanBatch: samples / count,
    runSeconds: after.runSeconds - before.runSeconds,
    queueMsPerRequest: timedRequests > 0 ? ((after.queueSeconds - before.queueSeconds) / timedRequests) * 1000 : NaN,
    runMsPerRequest: timedRequests > 0 ? ((after.requestRunSeconds - before.requestRunSeconds) / timedRequests) * 1000 : NaN,
    requests,
  };
}

const tsx = ["--import", "tsx"];

/** Runs a node script pinned to a core and returns the JSON of its last stdout line. */
function pinnedNode(core: number, script: string, args: string[]): Record<string, unknown> {
  const out = execFileSync("taskset", ["-c", String(core), process.execPath, ...tsx, script, ...args], { encoding: "utf8", maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
}

const tmp = mkdtempSync(join(tmpdir(), "meanet-bench-isolated-"));
let stopServer = () => {};
try {
  await meanet(compile, ["examples/fashion-mnist.meanet", "-o", tmp]);
  const buildDir = join(tmp, MODEL);
  await meanet(exportCommand, [buildDir, "--random-weights", "--seed", "1"]);
  const modelPath = join(buildDir, "cloud", "model.onnx");

  const profileArgs = values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [];
  const serve = await startServe(
    profileArgs,
    meanetBin,
    [buildDir, "--port", "0", "--max-batch", String(maxBatch), "--max-delay-ms", String(maxDelayMs), "--inference-thread", inferenceThread, "--ort-threads", "1"],
    ["taskset", "-c", String(serverCore)],
  );
  stopServer = () => serve.process.kill("SIGKILL");
  const pid = serve.process.pid!;
  const base = serve.url.toString().replace(/\/$/, "");
  const path = `/v2/models/${MODEL}/infer`;
  // A fresh connection each time: a kept-alive one may be closed by the server while the benchmark waits.
  const metrics = () =>
    new Promise<Scrape>((resolveScrape, reject) => {
      get(`${base}/metrics`, { agent: false }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolveScrape(scrape(text)));
      }).on("error", reject);
    });

  // One seeded random image, as JSON or as the binary tensor extension.
  let a = 0x9e3779b9;
  const image = new Uint8Array(PIXELS).map(() => {
    a ^= a << 13;
    a ^= a >>> 17;
    a ^= a << 5;
    return a & 0xff;
  });
  const header = JSON.stringify({ inputs: [{ name: "image", shape: [1, 28, 28, 1], datatype: "UINT8", parameters: { binary_data_size: PIXELS } }] });
  const body = binary ? Buffer.concat([Buffer.from(header), image]) : Buffer.from(JSON.stringify({ inputs: [{ name: "image", shape: [1, 28, 28, 1], datatype: "UINT8", data: Array.from(image) }] }));
  const headers: Record<string, string> = binary ? { "content-type": "application/octet-stream", "inference-header-content-length": String(Buffer.byteLength(header)) } : { "content-type": "application/json" };
  const bodyFile = join(tmp, "body.bin");
  writeFileSync(bodyFile, body);
  const check = await fetch(`${base}${path}`, { method: "POST", headers, body });
  const answer = (await check.json()) as { outputs?: { data: number[] }[] };
  if (check.status !== 200 || answer.outputs?.[0]?.data.length !== 10) throw new Error(`the server's answer to the benchmark's request is not 10 probabilities: ${check.status} ${JSON.stringify(answer).slice(0, 300)}`);

  // wrk's script: the request, and a JSON summary of what it measured.
  const script = join(tmp, "post.lua");
  writeFileSync(
    script,
    `local f = io.open(${JSON.stringify(bodyFile)}, "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
${Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join("\n")}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
`,
  );
  const wrkAt = (server: string, clients: number, secs: number) => {
    const out = execFileSync("taskset", ["-c", String(loadCore), "wrk", "-t1", `-c${clients}`, `-d${secs}s`, "--timeout", "5s", "-s", script, `${server}${path}`], { encoding: "utf8" });
    const line = out.split("\n").find((l) => l.startsWith("WRK "));
    if (!line) throw new Error(`wrk printed no summary:\n${out}`);
    return JSON.parse(line.slice(4)) as { requests: number; us: number; connect: number; read: number; write: number; status: number; timeout: number; p50: number; p95: number; p99: number; max: number };
  };
  const wrk = (clients: number, secs: number) => wrkAt(base, clients, secs);

  const closed = [];
  for (const clients of levels) {
    wrk(clients, WARMUP_SECONDS);
    const before = await metrics();
    const cpu0 = cpuSecondsOf(pid);
    const w = wrk(clients, seconds);
    const cpu = cpuSecondsOf(pid) - cpu0;
    const m = difference(before, await metrics());
    const baseline = pinnedNode(serverCore, "bench/ortReplay.ts", [modelPath, JSON.stringify(m.batches)]) as { seconds: number; samples: number };
    const timed = w.us / 1e6;
    const failed = w.connect + w.read + w.write + w.status + w.timeout;
    const rps = w.requests / timed;
    closed.push({
      clients,
      requests: w.requests,
      failed,
      requestsPerSecond: round(rps, 1),
      p50Ms: round(w.p50 / 1000, 2),
      p95Ms: round(w.p95 / 1000, 2),
      p99Ms: round(w.p99 / 1000, 2),
      maxMs: round(w.max / 1000, 2),
      meanBatch: round(m.meanBatch, 2),
      queueMsPerRequest: round(m.queueMsPerRequest, 3),
      runMsPerRequest: round(m.runMsPerRequest, 3),
      baselineSamplesPerSecond: round(baseline.samples / baseline.seconds, 1),
      ratio: round(rps / (baseline.samples / baseline.seconds), 3),
      serverCpuCores: round(cpu / timed, 2),
      serverCpuMicrosPerRequest: round((cpu / m.requests) * 1e6, 1),
      onnxruntimeMicrosPerRequest: round((baseline.seconds / m.requests) * 1e6, 1),
      outsideOnnxruntimeMicrosPerRequest: round(((cpu - baseline.seconds) / m.requests) * 1e6, 1),
    });
  }

  // Open loop at fractions of the highest closed-loop throughput.
  const maxRate = Math.max(...closed.map((c) => c.requestsPerSecond));
  const open = [];
  for (const fraction of openRates) {
    const rate = Math.round(maxRate * fraction);
    const config = join(tmp, `open-${fraction}.json`);
    writeFileSync(config, JSON.stringify({ url: base, path, headers, bodyFile, rate, seconds: openSeconds, connections: 512, timeoutMs: 5000 }));
    const before = await metrics();
    const cpu0 = cpuSecondsOf(pid);
    const r = pinnedNode(loadCore, "bench/openLoop.ts", [config]) as { requests: number; ok: number; failed: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number; connections: number };
    const cpu = cpuSecondsOf(pid) - cpu0;
    const m = difference(before, await metrics());
    open.push({
      fraction,
      rate,
      ...r,
      p99OverP50: round(r.p99Ms / r.p50Ms, 2),
      meanBatch: round(m.meanBatch, 2),
      queueMsPerRequest: round(m.queueMsPerRequest, 3),
      runMsPerRequest: round(m.runMsPerRequest, 3),
      serverCpuMicrosPerRequest: round((cpu / m.requests) * 1e6, 1),
    });
  }

  serve.process.kill("SIGTERM");
  const exitCode = await serve.exited;
  stopServer = () => {};

  // The floor: bare node:http reading and parsing the same requests on the same core (bench/httpFloor.ts).
  const floorClients = Math.max(...levels);
  const floorServer = spawn("taskset", ["-c", String(serverCore), process.execPath, ...tsx, "bench/httpFloor.ts", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  stopServer = () => floorServer.kill("SIGKILL");
  const floorUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    floorServer.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)\n/.exec(out);
      if (m) resolve(m[1]!.replace(/\/$/, ""));
    });
    floorServer.on("exit", () => reject(new Error("bench/httpFloor.ts exited before listening")));
  });
  wrkAt(floorUrl, floorClients, WARMUP_SECONDS);
  const floorCpu0 = cpuSecondsOf(floorServer.pid!);
  const f = wrkAt(floorUrl, floorClients, seconds);
  const floorCpu = cpuSecondsOf(floorServer.pid!) - floorCpu0;
  floorServer.kill("SIGKILL");
  stopServer = () => {};
  const floor = { clients: floorClients, requestsPerSecond: round(f.requests / (f.us / 1e6), 1), failed: f.connect + f.read + f.write + f.status + f.timeout, cpuMicrosPerRequest: round((floorCpu / f.requests) * 1e6, 1) };

  let profile: { self: string; ms: number; share: number }[] | undefined;
  if (values.profile) {
    const file = readdirSync(values.profile).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(values.profile!, f)).sort().pop();
    if (file) profile = topSelfTime(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, 15);
  }

  const result = {
    bench: "serve-isolated",
    model: `${MODEL}/cloud`,
    encoding: binary ? "binary" : "json",
    serverCore,
    loadCore,
    maxBatch,
    maxDelayMs,
    inferenceThread,
    ortThreads: 1,
    meanet: values.meanet ?? "bin/meanet.js",
    closed,
    open,
    floor,
    serverExitCode: exitCode,
    cores: availableParallelism(),
    loadAverage: round(loadavg()[0]!, 2),
    date: new Date().toISOString(),
    ...(profile ? { profile } : {}),
  };
  if (!values.json) {
    console.log(`meanet serve on core ${serverCore} (onnxruntime 1 thread, ${inferenceThread} thread), load on core ${loadCore}; ${binary ? "binary" : "JSON"} single-image requests`);
    console.log("clients  req/s     p50 ms  p95 ms  p99 ms  failed  batch  queue ms  run ms  baseline/s  ratio  server µs/req  outside ort µs/req");
    for (const c of closed) console.log(`${String(c.clients).padStart(7)}  ${String(c.requestsPerSecond).padStart(8)}  ${String(c.p50Ms).padStart(6)}  ${String(c.p95Ms).padStart(6)}  ${String(c.p99Ms).padStart(6)}  ${String(c.failed).padStart(6)}  ${String(c.meanBatch).padStart(5)}  ${String(c.queueMsPerRequest).padStart(8)}  ${String(c.runMsPerRequest).padStart(6)}  ${String(c.baselineSamplesPerSecond).padStart(10)}  ${String(c.ratio).padStart(5)}  ${String(c.serverCpuMicrosPerRequest).padStart(13)}  ${String(c.outsideOnnxruntimeMicrosPerRequest).padStart(18)}`);
    console.log("open loop: rate     p50 ms  p95 ms  p99 ms  p99/p50  failed  batch  server µs/req");
    for (const o of open) console.log(`${`${o.fraction * 100}%`.padStart(9)} ${String(o.rate).padStart(6)}  ${String(o.p50Ms).padStart(6)}  ${String(o.p95Ms).padStart(6)}  ${String(o.p99Ms).padStart(6)}  ${String(o.p99OverP50).padStart(7)}  ${String(o.failed).padStart(6)}  ${String(o.meanBatch).padStart(5)}  ${String(o.serverCpuMicrosPerRequest).padStart(13)}`);
    console.log(`floor (bare node:http reading and parsing the same requests, ${floor.clients} clients): ${floor.requestsPerSecond} req/s, ${floor.cpuMicrosPerRequest} µs of CPU per request, ${floor.failed} failed`);
    if (profile) for (const p of profile) console.log(`  ${(p.share * 100).toFixed(1).padStart(5)}%  ${p.self}`);
  }
  console.log(JSON.stringify(result));
} finally {
  stopServer();
  rmSync(tmp, { recursive: true, force: true });
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** The functions with the most self time in a V8 CPU profile (idle excluded). */
function topSelfTime(p: CpuProfile, n: number): { self: string; ms: number; share: number }[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!;
    if (f.functionName === "(idle)") return;
    const key = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(dist|src)\//, "$1/")}:${f.lineNumber + 1}`;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()].sort((x, y) => y[1] - x[1]).slice(0, n).map(([k, ms]) => ({ self: k, ms: round(ms, 1), share: round(ms / total, 4) }));
}
