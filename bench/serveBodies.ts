/**
 * Latency of small requests to `meanet serve` while other clients send large bodies.
 *
 *   node --import tsx bench/serveBodies.ts [--json] [--seconds S] [--small-clients C] [--large-clients L]
 *                                          [--large valid|oversize] [--oversize-mib M] [--max-body-bytes B]
 *                                          [--meanet PATH] [--profile DIR]
 *
 * The Fashion-MNIST example is compiled into a temporary directory and exported with seeded random
 * weights; `node PATH serve` (default bin/meanet.js, the built dist/, so run `npm run build` first)
 * serves its cloud partition on a loopback port as a child process. C keep-alive clients each send
 * single-image JSON infer requests one after another, and their latency is measured in two phases
 * of S seconds: first alone, then while L more clients send large bodies one after another:
 *
 * - `valid`: the largest request the server accepts, a batch of --max-batch (64) images as nested
 *   JSON arrays of 255s (the longest spelling of a UINT8 in nested form, about 305 kB);
 * - `oversize`: a JSON body of M MiB (default 60) whose `data` array holds far more numbers than
 *   the shape asks for, which a server either reads and parses or refuses from its Content-Length.
 *
 * A small request fails unless it gets a 200 with ten probabilities. The report gives each phase's
 * small-request percentiles (nearest rank), what the large requests got (statuses, or connection
 * errors), the server's peak resident memory (VmHWM) and, when the server exports them, the
 * largest values of its large-body gauges seen in /metrics. `--meanet` points at another checkout's
 * bin/meanet.js to measure an older server on the same machine with the same clients; --profile DIR
 * writes the server's CPU profile there. The last line with --json is one JSON object.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { compile } from "../src/cli/compile.js";
import { exportCommand } from "../src/cli/export.js";
import { startServe } from "./serveChild.js";
import { meanet, percentile, round } from "./common.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    seconds: { type: "string" },
    "small-clients": { type: "string" },
    "large-clients": { type: "string" },
    large: { type: "string" },
    "oversize-mib": { type: "string" },
    "max-body-bytes": { type: "string" },
    meanet: { type: "string" },
    profile: { type: "string" },
  },
});

function count(name: keyof typeof values, fallback: number, min = 1): number {
  const text = values[name];
  const value = text === undefined ? fallback : Number(text);
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) throw new Error(`--${name} takes a number ≥ ${min}`);
  return value;
}

const seconds = count("seconds", 10);
const smallClients = Math.floor(count("small-clients", 4));
const largeClients = Math.floor(count("large-clients", 6, 0));
const largeKind = values.large ?? "valid";
if (largeKind !== "valid" && largeKind !== "oversize") throw new Error("--large takes valid or oversize");
const oversizeMiB = count("oversize-mib", 60);
const meanetBin = resolve(values.meanet ?? "bin/meanet.js");
if (!existsSync(join(dirname(meanetBin), "..", "dist", "cli", "serve.js"))) throw new Error(`${meanetBin}: its dist/ is missing; run \`npm run build\` there first`);
const MODEL = "fashion_mnist";
const PIXELS = 28 * 28;
const MAX_BATCH = 64;




/** Peak resident memory of a process in MiB (Linux /proc), or NaN elsewhere. */
function peakMiB(pid: number | undefined): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? round(Number(m[1]) / 1024, 1) : NaN;
  } catch {
    return NaN;
  }
}

/** A nested array of `shape`, every element `v`. */
function filled(shape: number[], v: number): unknown {
  return shape.length === 1 ? new Array(shape[0]).fill(v) : Array.from({ length: shape[0]! }, () => filled(shape.slice(1), v));
}

function largeBody(): Buffer {
  if (largeKind === "valid") return Buffer.from(JSON.stringify({ inputs: [{ name: "image", shape: [MAX_BATCH, 28, 28, 1], datatype: "UINT8", data: filled([MAX_BATCH, 28, 28, 1], 255) }] }));
  const head = `{"inputs":[{"name":"image","shape":[${MAX_BATCH},28,28,1],"datatype":"UINT8","data":[`;
  const numbers = Math.floor((oversizeMiB * 1024 * 1024 - head.length - 4) / 4);
  return Buffer.concat([Buffer.from(head), Buffer.from("255,".repeat(numbers - 1) + "255]}]}")]);
}

const tmp = mkdtempSync(join(tmpdir(), "meanet-bench-bodies-"));
const child = { kill: () => {} } as { kill: (s?: NodeJS.Signals) => void };
try {
  await meanet(compile, ["examples/fashion-mnist.meanet", "-o", tmp]);
  const buildDir = join(tmp, MODEL);
  await meanet(exportCommand, [buildDir, "--random-weights", "--seed", "1"]);

  const limit = values["max-body-bytes"] ? ["--max-body-bytes", values["max-body-bytes"]] : [];
  const profile = values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [];
  const serve = await startServe(profile, meanetBin, [buildDir, "--port", "0", "--max-batch", String(MAX_BATCH), ...limit]);
  child.kill = (s) => serve.process.kill(s);
  const { url, exited } = serve;
  const path = `/v2/models/${MODEL}/infer`;

  /** One POST; resolves with the status (0 for a connection error) and the reply's text. */
  function post(agent: Agent, body: Buffer | string): Promise<{ status: number; text: string }> {
    return new Promise((done) => {
      const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) };
      const req = request({ host: url.hostname, port: url.port, path, method: "POST", agent, headers }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => done({ status: res.statusCode ?? 0, text }));
        res.on("error", () => done({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", () => done({ status: 0, text: "" }));
      req.end(body);
    });
  }
  const get = (p: string) =>
    new Promise<string>((done, fail) => {
      request({ host: url.hostname, port: url.port, path: p }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => done(text));
      })
        .on("error", fail)
        .end();
    });

  let phase: "alone" | "loaded" | "done" = "alone";
  const latencies = { alone: [] as number[], loaded: [] as number[] };
  const failedSmall = { alone: 0, loaded: 0 };
  const smallAgent = new Agent({ keepAlive: true, maxSockets: smallClients });
  async function small(seed: number): Promise<void> {
    let a = seed >>> 0 || 1;
    const image = new Array<number>(PIXELS);
    while (phase !== "done") {
      for (let i = 0; i < PIXELS; i++) {
        a ^= a << 13;
        a ^= a >>> 17;
        a ^= a << 5;
        image[i] = a & 0xff;
      }
      const at = phase;
      const started = performance.now();
      const r = await post(smallAgent, JSON.stringify({ inputs: [{ name: "image", shape: [1, 28, 28, 1], datatype: "UINT8", data: image }] }));
      const ms = performance.now() - started;
      if (at !== phase) continue;
      let ok = r.status === 200;
      try {
        ok &&= (JSON.parse(r.text) as { outputs: { data: number[] }[] }).outputs[0]!.data.length === 10;
      } catch {
        ok = false;
      }
      latencies[at].push(ms);
      if (!ok) failedSmall[at]++;
    }
  }

  const body = largeBody();
  const largeStatuses: Record<string, number> = {};
  const largeAgent = new Agent({ keepAlive: true, maxSockets: Math.max(1, largeClients) });
  async function large(): Promise<void> {
    while (phase === "loaded") {
      const r = await post(largeAgent, body);
      if (phase !== "loaded") break;
      largeStatuses[r.status || "connection error"] = (largeStatuses[r.status || "connection error"] ?? 0) + 1;
    }
  }

  /** Largest values of the server's large-body gauges, sampled while the large clients run. */
  const gauges = { serving: NaN, reading: NaN, waiting: NaN };
  async function watch(): Promise<void> {
    while (phase === "loaded") {
      const text = await get("/metrics").catch(() => "");
      for (const [key, name] of [["serving", "meanet_http_large_bodies_serving"], ["reading", "meanet_http_large_bodies_reading"], ["waiting", "meanet_http_large_bodies_waiting"]] as const) {
        const m = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
        if (m) gauges[key] = Math.max(Number.isNaN(gauges[key]) ? 0 : gauges[key], Number(m[1]));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const smalls = Array.from({ length: smallClients }, (_, i) => small(0x9e3779b9 * (i + 1)));
  // Warm up, then time the small clients alone.
  await new Promise((r) => setTimeout(r, 2000));
  latencies.alone.length = 0;
  failedSmall.alone = 0;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const loads = [loadavg()[0]!];
  phase = "loaded";
  const larges = Array.from({ length: largeClients }, () => large());
  const watching = watch();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  loads.push(loadavg()[0]!);
  phase = "done";
  await Promise.all([...smalls, ...larges, watching]);
  smallAgent.destroy();
  largeAgent.destroy();
  const peak = peakMiB(serve.process.pid);
  serve.process.kill("SIGTERM");
  const exitCode = await exited;

  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { requests: s.length, p50Ms: round(percentile(s, 50), 1), p90Ms: round(percentile(s, 90), 1), p99Ms: round(percentile(s, 99), 1), maxMs: round(s[s.length - 1] ?? NaN, 1) };
  };
  const result = {
    bench: "serveBodies",
    model: `${MODEL}/cloud`,
    server: meanetBin,
    serverStartup: serve.startup(),
    seconds,
    smallClients,
    largeClients,
    large: largeKind,
    largeBodyBytes: body.length,
    alone: { ...stats(latencies.alone), failed: failedSmall.alone },
    loaded: { ...stats(latencies.loaded), failed: failedSmall.loaded },
    largeStatuses,
    /** The largest values of meanet_http_large_bodies_{serving,reading,waiting} seen; null when the server has none. */
    largeBodiesMax: Object.fromEntries(Object.entries(gauges).map(([k, v]) => [k, Number.isNaN(v) ? null : v])),
    serverPeakMiB: peak,
    serverExitCode: exitCode,
    cores: availableParallelism(),
    loadAverage: round(Math.max(...loads), 2),
    node: process.versions.node,
  };
  if (!values.json) {
    console.log(`meanet serve (${meanetBin}), ${MODEL}: ${smallClients} small-request clients; then ${largeClients} more sending ${largeKind} bodies of ${body.length} bytes; ${seconds} s each`);
    for (const k of ["alone", "loaded"] as const) {
      const s = result[k];
      console.log(`small requests ${k}: ${s.requests} (${s.failed} failed); p50 ${s.p50Ms} ms, p90 ${s.p90Ms} ms, p99 ${s.p99Ms} ms, max ${s.maxMs} ms`);
    }
    console.log(`large requests: ${JSON.stringify(largeStatuses)}; server peak memory ${peak} MiB; large bodies at most ${JSON.stringify(result.largeBodiesMax)}`);
    console.log(`load average up to ${result.loadAverage} on ${result.cores} cores; server exit code ${exitCode}`);
  }
  console.log(JSON.stringify(result));
} finally {
  child.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
}
