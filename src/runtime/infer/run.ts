/**
 * Classifying a data set through the routed path: the edge files here, the cloud over HTTP. Used by
 * `meanet run` and by the generated `edge/router.ts` when run as a program.
 */
import type { Manifest } from "../../format/manifest.js";
import { ROUTER_PROGRAM_OPTIONS } from "../../format/routerOptions.js";
import { Codes, UsageError } from "../../diagnostics/index.js";
import { integerFlag, parseFlags, programFailure } from "../argv.js";
import { readBuild } from "../../format/build.js";
import { readTokenFile } from "../serve/auth.js";
import { loadSplit, locateFor } from "../train/data/locate.js";
import { CloudClient } from "./client.js";
import { Router, type Classification } from "./router.js";
import { thresholdsOf, type Rule } from "../../format/rules.js";

export interface RoutedClassifierOptions {
  /** Base URL of an Open Inference Protocol server; without one, inputs routed to the cloud are answered by the edge (degraded). */
  cloud?: string;
  token?: string;
  /** Cloud model name; the build's model by default (Triton and KServe serve it under the same name). */
  model?: string;
  timeoutMs?: number;
  retries?: number;
}

export interface RoutedClassifier {
  classify(input: Uint8Array | Int8Array | Float32Array, count: number): Promise<Classification[]>;
  readonly router: Router;
  readonly client: CloudClient | undefined;
  close(): Promise<void>;
}

/** The manifest's routing thresholds, in the order the generated router numbers them. */
export function loadThresholds(buildDir: string): number[] {
  return thresholdsOf(readBuild(buildDir).manifest);
}

export async function openRoutedClassifier(buildDir: string, rules: Rule[] | undefined, o: RoutedClassifierOptions = {}): Promise<RoutedClassifier> {
  const model = o.model ?? readBuild(buildDir).manifest.model;
  const client = o.cloud ? new CloudClient({ url: o.cloud, model, ...(o.token ? { token: o.token } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.retries !== undefined ? { retries: o.retries } : {}) }) : undefined;
  const router = await Router.open({ buildDir, ...(client ? { cloud: client } : {}), ...(rules ? { rules } : {}) });
  return {
    router,
    client,
    classify: (input, count) => router.classify(input, count),
    close: async () => {
      await router.close();
      client?.close();
    },
  };
}

export interface ExitStats {
  count: number;
  accuracy: number | null;
}

export interface RunReport {
  model: string;
  cloud: string | null;
  data: string;
  samples: number;
  accuracy: number;
  exits: Record<string, ExitStats>;
  /** Inputs the rules sent to the cloud that the edge answered because the cloud did not. */
  degraded: number;
  latencyMs: { p50: number; p99: number };
  /** Edge energy by the cost model: edge MACs × energy per MAC + bits sent × energy per bit. */
  energyJPerSample: number;
  /**
   * Requests to the cloud: `failures` counts every call that got no usable answer (none in time,
   * or a reply that failed the client's checks), `fastFailures` of them failed at once during the
   * client's cool-down after a failure; `firstFailure` says why the first one failed.
   */
  cloudRequests: { calls: number; failures: number; fastFailures: number; retries: number; firstFailure: string | null };
  seconds: number;
}

export interface Samples {
  images: Uint8Array;
  labels: ArrayLike<number>;
  count: number;
  source: string;
}

/** The test split of the data set that fits the build's input (as for training), first `limit` images. */
export function loadTestSamples(manifest: Pick<Manifest, "input" | "labels">, dataDir: string | undefined, limit: number | undefined): Samples {
  const located = locateFor({ input: manifest.input, labels: manifest.labels }, dataDir);
  const test = loadSplit(located, "test", { limit });
  return { images: test.images, labels: test.labels, count: test.count, source: located.description };
}

function percentile(sorted: number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

/** Classifies the samples in batches through the classifier and scores the answers. */
export async function runSamples(c: RoutedClassifier, samples: Samples, batch: number, cloudUrl: string | null, onBatch?: (done: number) => void): Promise<RunReport> {
  const { manifest } = c.router;
  const size = manifest.input.shape.reduce((a, b) => a * b, 1);
  const started = performance.now();
  const exits: Record<string, { count: number; correct: number }> = {};
  for (const x of manifest.exits) exits[x.name] = { count: 0, correct: 0 };
  const latencies: number[] = [];
  let correct = 0;
  let degraded = 0;
  let energy = 0;
  const edge = manifest.devices.edge;
  for (let i = 0; i < samples.count; i += batch) {
    const n = Math.min(batch, samples.count - i);
    const answers = await c.classify(samples.images.subarray(i * size, (i + n) * size), n);
    answers.forEach((a, j) => {
      const ok = a.classId === samples.labels[i + j];
      if (ok) correct++;
      exits[a.exit]!.count++;
      if (ok) exits[a.exit]!.correct++;
      if (a.degraded) degraded++;
      latencies.push(a.edgeMs + a.cloudMs);
      energy += a.edgeMacs * edge.energyPerMacJ + a.bytesSent * 8 * edge.energyPerBitJ;
    });
    onBatch?.(i + n);
  }
  latencies.sort((a, b) => a - b);
  const stats = c.client?.stats ?? { calls: 0, failures: 0, fastFailures: 0, retries: 0, firstFailure: null };
  return {
    model: manifest.model,
    cloud: cloudUrl,
    data: samples.source,
    samples: samples.count,
    accuracy: round(correct / samples.count),
    exits: Object.fromEntries(Object.entries(exits).map(([k, v]) => [k, { count: v.count, accuracy: v.count ? round(v.correct / v.count) : null }])),
    degraded,
    latencyMs: { p50: round(percentile(latencies, 0.5), 3), p99: round(percentile(latencies, 0.99), 3) },
    energyJPerSample: Number((energy / samples.count).toPrecision(4)),
    cloudRequests: { calls: stats.calls, failures: stats.failures, fastFailures: stats.fastFailures, retries: stats.retries, firstFailure: stats.firstFailure },
    seconds: round((performance.now() - started) / 1000, 2),
  };
}

export function formatRunReport(r: RunReport): string {
  const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(2)}%`);
  const lines = [
    `${r.model}: ${r.samples} images of ${r.data}, cloud ${r.cloud ?? "(none)"}`,
    `accuracy ${pct(r.accuracy)}; degraded ${r.degraded}`,
    ...Object.entries(r.exits).map(([k, v]) => `  exit ${k}: ${v.count} inputs (${((v.count / r.samples) * 100).toFixed(1)}%), accuracy ${pct(v.accuracy)}`),
    `latency per input p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms; edge energy ${r.energyJPerSample} J per input`,
    `cloud requests ${r.cloudRequests.calls} (${r.cloudRequests.failures} failed${r.cloudRequests.fastFailures ? `, ${r.cloudRequests.fastFailures} of them during the cool-down` : ""}, ${r.cloudRequests.retries} retries); ${r.seconds} s`,
  ];
  return lines.join("\n");
}

/**
 * What a run tells its user about cloud failures, on standard error, once: a warning when some
 * cloud requests failed, an error (exit 1) when every one did, which is a misconfigured cloud (a
 * wrong URL or token) far more often than a flaky one. The report is printed either way.
 */
export function cloudFailureNotice(r: Pick<RunReport, "cloudRequests" | "degraded">): { severity: "warning" | "error"; text: string } | undefined {
  const { calls, failures, fastFailures, firstFailure } = r.cloudRequests;
  if (failures === 0) return undefined;
  const first = `first failure: ${firstFailure ?? "unknown"}`;
  const during = fastFailures ? `, ${fastFailures} of them at once during the cool-down that follows a failure` : "";
  const answered = `${r.degraded} input${r.degraded === 1 ? "" : "s"} routed to the cloud ${r.degraded === 1 ? "was" : "were"} answered by the edge (degraded)`;
  if (failures === calls) return { severity: "error", text: `error ${Codes.CloudUnavailable}: no cloud request succeeded (${failures} of ${calls} failed${during}); ${first}; ${answered}` };
  return { severity: "warning", text: `warning: ${failures} of ${calls} cloud requests failed${during}; ${first}; ${answered}` };
}

export interface RoutedRunOptions extends RoutedClassifierOptions {
  buildDir: string;
  rules?: Rule[];
  data?: string;
  limit?: number;
  batch: number;
  /** Starts a cloud server on a loopback port when no `cloud` URL is given. */
  startCloud?: (buildDir: string, token: string | undefined) => Promise<{ url: string; close(): Promise<void> }>;
}

/** Loads the data, opens the classifier (and an embedded cloud if asked), and runs. */
export async function routedRun(o: RoutedRunOptions): Promise<RunReport> {
  const build = readBuild(o.buildDir);
  const samples = loadTestSamples(build.manifest, o.data, o.limit);
  const embedded = !o.cloud && o.startCloud ? await o.startCloud(o.buildDir, o.token) : undefined;
  const url = o.cloud ?? embedded?.url;
  try {
    const c = await openRoutedClassifier(o.buildDir, o.rules, { ...o, ...(url ? { cloud: url } : {}) });
    try {
      return await runSamples(c, samples, o.batch, url ?? null);
    } finally {
      await c.close();
    }
  } finally {
    await embedded?.close();
  }
}

export const RUN_FLAGS = {
  cloud: { type: "string" },
  data: { type: "string" },
  limit: { type: "string" },
  batch: { type: "string" },
  "token-file": { type: "string" },
  "timeout-ms": { type: "string" },
  json: { type: "boolean" },
} as const;

/** Flags shared by `meanet run` and the generated router program; a bad value is a UsageError. */
export function runOptionsFromFlags(values: Partial<Record<keyof typeof RUN_FLAGS, string | boolean>>): Omit<RoutedRunOptions, "buildDir"> {
  const whole = (name: "limit" | "timeout-ms" | "batch", min: number) => integerFlag(name, values[name] as string | undefined, { min });
  const cloud = values.cloud;
  if (typeof cloud === "string") {
    let u: URL;
    try {
      u = new URL(cloud);
    } catch {
      throw new UsageError(`--cloud must be a URL such as http://127.0.0.1:8000, not \`${cloud}\``);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`--cloud must be an http or https URL, not \`${cloud}\``);
  }
  const limit = whole("limit", 1);
  const timeoutMs = whole("timeout-ms", 1);
  // Read last, once the flags are known good: an unreadable file is MN5001 (exit 1), as for serve.
  const tokenFile = values["token-file"];
  const token = typeof tokenFile === "string" ? readTokenFile(tokenFile) : undefined;
  return {
    batch: whole("batch", 1) ?? 1,
    ...(typeof cloud === "string" ? { cloud } : {}),
    ...(typeof values.data === "string" ? { data: values.data } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(token ? { token } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

const PROGRAM_USAGE = `usage: router.ts ${ROUTER_PROGRAM_OPTIONS} [--help]
classifies the test images of the build's data set through the routed edge-cloud path, as meanet run does`;

/** Entry point of a generated router run as a program. Returns the exit code. */
export async function runRouterProgram(buildDir: string, rules: Rule[], argv: string[]): Promise<number> {
  try {
    const { values } = parseFlags(argv, { ...RUN_FLAGS, help: { type: "boolean", short: "h" } });
    if (values.help) {
      process.stdout.write(`${PROGRAM_USAGE}\n`);
      return 0;
    }
    const options = runOptionsFromFlags(values);
    const { startEmbeddedCloud } = await import("./embedded.js");
    const report = await routedRun({ buildDir, rules, ...options, startCloud: startEmbeddedCloud });
    process.stdout.write((values.json ? JSON.stringify(report) : formatRunReport(report)) + "\n");
    const notice = cloudFailureNotice(report);
    if (notice) process.stderr.write(`${notice.text}\n`);
    return notice?.severity === "error" ? 1 : 0;
  } catch (e) {
    return programFailure(e, PROGRAM_USAGE);
  }
}
