/**
 * An open-loop load generator for the serving benchmarks, run as its own process (pinned to a
 * core by the caller): requests are sent at a fixed rate whatever the server does, each at its
 * intended time t₀ + i / rate, and a request's latency runs from that intended time, so a
 * server that falls behind is charged for the wait it causes (no coordinated omission).
 *
 *   node --import tsx bench/openLoop.ts CONFIG.json
 *
 * CONFIG: { url, path, headers, bodyFile, rate, seconds, connections, timeoutMs }. A request
 * takes a free keep-alive connection, or opens one up to `connections`; with none free it waits
 * (its latency still counts from its intended time). A request fails unless its reply is a 200
 * within `timeoutMs` of its intended time. The one line written to stdout is JSON.
 */
import { readFileSync } from "node:fs";
import { RawConnection } from "./rawHttp.js";
import { percentile } from "./common.js";

interface Config {
  url: string;
  path: string;
  headers: Record<string, string>;
  bodyFile: string;
  rate: number;
  seconds: number;
  connections: number;
  timeoutMs: number;
}

const config = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Config;
const url = new URL(config.url);
const body = readFileSync(config.bodyFile);
const total = Math.round(config.rate * config.seconds);
const free: RawConnection[] = [];
let opened = 0;
const backlog: number[] = [];
const latencies: number[] = [];
let ok = 0;
let failed = 0;
let maxOpen = 0;
let started = 0;


async function fire(connection: RawConnection, intended: number): Promise<void> {
  const reply = await connection.send(config.path, config.headers, body);
  const ms = performance.now() - intended;
  latencies.push(ms);
  if (reply?.status === 200 && ms <= config.timeoutMs) ok++;
  else failed++;
  const next = backlog.shift();
  if (next !== undefined) void fire(connection, next);
  else free.push(connection);
}

function dispatch(intended: number): void {
  let c = free.pop();
  if (!c && opened < config.connections) {
    c = new RawConnection(url.hostname, Number(url.port));
    opened++;
    maxOpen = Math.max(maxOpen, opened);
  }
  if (c) void fire(c, intended);
  else backlog.push(intended);
}

const t0 = performance.now() + 50;
const cpu0 = process.cpuUsage();
await new Promise<void>((done) => {
  const tick = () => {
    const now = performance.now();
    while (started < total && t0 + (started * 1000) / config.rate <= now) dispatch(t0 + (started++ * 1000) / config.rate);
    if (started >= total) return done();
    // Sleep until about a millisecond before the next intended time; spin the last stretch.
    const wait = t0 + (started * 1000) / config.rate - performance.now();
    if (wait > 1.5) setTimeout(tick, wait - 1);
    else setImmediate(tick);
  };
  tick();
});
// Wait for the replies in flight, up to the timeout.
const deadline = performance.now() + config.timeoutMs;
while (ok + failed < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
const unanswered = total - ok - failed;
const cpu = process.cpuUsage(cpu0);
RawConnection.destroyAll();
const sorted = latencies.sort((a, b) => a - b);
const round = (x: number) => Number(x.toFixed(2));
console.log(
  JSON.stringify({
    rate: config.rate,
    seconds: config.seconds,
    requests: total,
    ok,
    failed: failed + unanswered,
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1] ?? NaN),
    connections: maxOpen,
    generatorCpuMicrosPerRequest: round((cpu.user + cpu.system) / total),
  }),
);
process.exit(0);
