/**
 * Routed edge–cloud inference end to end: `meanet serve` on a loopback port, the generated
 * edge/router.ts and `meanet run` over Fashion-MNIST test images, checked against an in-process
 * evaluation that runs every exported file in onnxruntime and applies the spec's rule by hand.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRoutedClassifier, runSamples, loadTestSamples, type Classification, type RoutedClassifier, type RunReport } from "../src/runtime/infer/index.js";
import { cloudFailureNotice, RUN_FLAGS } from "../src/runtime/infer/run.js";
import { copyTrainedBuild } from "./helpers/trained.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-route-"));
const out = join(tmp, "build");
const dir = join(out, "fashion_mnist");
const LIMIT = 1000;
const children: ChildProcess[] = [];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** Starts `meanet serve` on a free loopback port and waits for its `listening on` line. */
async function serve(...flags: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["bin/meanet.js", "serve", dir, "--port", "0", ...flags], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    let text = "";
    child.stdout!.on("data", (d: Buffer) => {
      text += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) resolveUrl(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`meanet serve exited with ${code}: ${err}`)));
  });
  return { url, child };
}

/** The in-process reference: every file in onnxruntime, the Fashion-MNIST rule applied by hand. */
interface Reference {
  classId: number;
  exit: string;
}

async function reference(images: Uint8Array, count: number, hardIds: number[]): Promise<Reference[]> {
  const session = (f: string) => ort.InferenceSession.create(join(dir, f));
  const [main, extension, cloud, defer] = await Promise.all([session("edge/main.onnx"), session("edge/extension.onnx"), session("cloud/model.onnx"), session("edge/defer.onnx")]);
  const image = new ort.Tensor("uint8", images.subarray(0, count * 784), [count, 28, 28, 1]);
  const m = await main.run({ image });
  const e = await extension.run({ image, "main.features": m["main.features"]! });
  const c = await cloud.run({ image });
  const d = await defer.run({ probs_main: m.probs_main!, probs_extension: e.probs_extension! });
  const pm = m.probs_main!.data as Float32Array;
  const pe = e.probs_extension!.data as Float32Array;
  const pc = c.probs_cloud!.data as Float32Array;
  const score = d.defer!.data as Float32Array;
  const argmax = (p: Float32Array, r: number, k: number) => {
    let b = 0;
    for (let i = 1; i < k; i++) if (p[r * k + i]! > p[r * k + b]!) b = i;
    return b;
  };
  const out: Reference[] = [];
  for (let r = 0; r < count; r++) {
    const top = argmax(pm, r, 10);
    // The example's rule: `cloud when defer(main, extension) > 0.15`, then the class test.
    if (score[r]! > 0.15) out.push({ classId: argmax(pc, r, 10), exit: "cloud" });
    else if (!hardIds.includes(top)) out.push({ classId: top, exit: "main" });
    else out.push({ classId: hardIds[argmax(pe, r, hardIds.length)]!, exit: "extension" });
  }
  await Promise.all([main.release(), extension.release(), cloud.release(), defer.release()]);
  return out;
}

let samples: ReturnType<typeof loadTestSamples>;
let hardIds: number[];
let expected: Reference[];

beforeAll(async () => {
  // The briefly trained model the e2e tests share; its routing rule is the example's.
  expect(copyTrainedBuild(out)).toBe(dir);
  const e = cli("export", dir);
  expect(e.status, e.err).toBe(0);
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  hardIds = manifest.export.hardClasses.map((l: string) => manifest.labels.indexOf(l));
  samples = loadTestSamples(manifest, undefined, LIMIT);
  expected = await reference(samples.images, samples.count, hardIds);
  // A briefly trained model is unsure often enough that every exit is used.
  const counts = countsOf(expected);
  for (const exit of ["main", "extension", "cloud"]) expect(counts[exit], JSON.stringify(counts)).toBeGreaterThan(20);
}, 1_200_000);

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

function countsOf(list: { exit: string }[]): Record<string, number> {
  const c: Record<string, number> = { main: 0, extension: 0, cloud: 0 };
  for (const x of list) c[x.exit]!++;
  return c;
}

function accuracyOf(list: { classId: number }[]): number {
  return Number((list.filter((x, i) => x.classId === samples.labels[i]).length / list.length).toFixed(4));
}

describe("routed inference against meanet serve", () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await serve());
  });

  it("the library API gives the in-process predictions, input by input", async () => {
    const c = await openRoutedClassifier(dir, undefined, { cloud: url });
    const got: Classification[] = [];
    for (let i = 0; i < samples.count; i += 50) got.push(...(await c.classify(samples.images.subarray(i * 784, (i + 50) * 784), 50)));
    await c.close();
    expect(got.map((g) => [g.classId, g.exit])).toEqual(expected.map((x) => [x.classId, x.exit]));
    expect(got.every((g) => !g.degraded)).toBe(true);
    // The generated router's header names the fields classify answers with, and every option of its program.
    const header = readFileSync(join(dir, "edge", "router.ts"), "utf8").split("*/")[0]!;
    const fields = /\/\/ per input: \{([^}]*)\}/.exec(header)![1]!.split(", ");
    expect([...fields].sort()).toEqual(Object.keys(got[0]!).sort());
    const run = header.split("\n").find((l) => l.includes("Run:"))!;
    for (const flag of Object.keys(RUN_FLAGS)) expect(run).toContain(`--${flag}`);
    for (const g of got) {
      expect(g.label).toBe(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")).labels[g.classId]);
      expect(g.confidence).toBeGreaterThan(0);
      expect(g.cloudMs > 0).toBe(g.exit === "cloud");
    }
  });

  it("meanet run reports the same exit counts and accuracy", () => {
    const r = cli("run", dir, "--cloud", url, "--limit", String(LIMIT), "--json");
    expect(r.status, r.err).toBe(0);
    const report = JSON.parse(r.out.trim().split("\n").pop()!) as RunReport;
    const counts = countsOf(expected);
    expect(report.samples).toBe(LIMIT);
    expect(report.degraded).toBe(0);
    expect(report.accuracy).toBe(accuracyOf(expected));
    for (const exit of ["main", "extension", "cloud"]) expect(report.exits[exit]!.count, exit).toBe(counts[exit]);
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50);
    expect(report.energyJPerSample).toBeGreaterThan(0);
  });

  it("the generated edge/router.ts, run as the README says from a clone with the build in ./build, reports the same", () => {
    // No installed meanet package: the router finds the checkout its build directory lies in.
    const inClone = join("build", `.route-test-${process.pid}`);
    rmSync(inClone, { recursive: true, force: true });
    cpSync(out, inClone, { recursive: true });
    try {
      const r = spawnSync("npx", ["tsx", join(inClone, "fashion_mnist", "edge", "router.ts"), "--cloud", url, "--limit", String(LIMIT), "--batch", "20", "--json"], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout.trim().split("\n").pop()!) as RunReport;
      const counts = countsOf(expected);
      expect(report.accuracy).toBe(accuracyOf(expected));
      for (const exit of ["main", "extension", "cloud"]) expect(report.exits[exit]!.count, exit).toBe(counts[exit]);
      const help = spawnSync("npx", ["tsx", join(inClone, "fashion_mnist", "edge", "router.ts"), "--help"], { encoding: "utf8" });
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^usage: router\.ts \[--cloud URL\].*\[--timeout-ms T\] \[--json\] \[--help\]\n/);
    } finally {
      rmSync(inClone, { recursive: true, force: true });
    }
  });

  it("outside a checkout and without the package installed, the router program says what it needs", () => {
    expect(existsSync(join(tmp, "node_modules"))).toBe(false);
    const r = spawnSync("npx", ["tsx", join(dir, "edge", "router.ts"), "--cloud", url], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: edge\/router\.ts needs the meanet package: found neither installed \(npm install meanet beside the build\) nor around /m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("faults", () => {
  it("the cloud is killed in the middle of a run: every input still gets an answer, the cloud's ones degraded", async () => {
    const { url, child } = await serve();
    const c = await openRoutedClassifier(dir, undefined, { cloud: url, timeoutMs: 1000, retries: 1 });
    const half = 400;
    let killed = false;
    const report = await runSamples(c, samples, 1, url, (done) => {
      if (done === half && !killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    await c.close();
    expect(report.samples).toBe(LIMIT);
    const total = Object.values(report.exits).reduce((s, e) => s + e.count, 0);
    expect(total).toBe(LIMIT);
    // Inputs routed to the cloud after the kill are answered by the edge.
    const cloudAfter = expected.slice(half).filter((x) => x.exit === "cloud").length;
    const cloudBefore = expected.slice(0, half).filter((x) => x.exit === "cloud").length;
    expect(report.degraded).toBe(cloudAfter);
    expect(report.exits.cloud!.count).toBe(cloudBefore);
    // One request per cloud input (batch 1): every call is an answer or a failure, those that
    // failed at once during the cool-down included.
    expect(report.cloudRequests.calls).toBe(cloudBefore + cloudAfter);
    expect(report.cloudRequests.calls - report.cloudRequests.failures).toBe(cloudBefore);
    expect(report.cloudRequests.fastFailures).toBeLessThan(report.cloudRequests.failures);
    expect(report.cloudRequests.firstFailure).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+|no complete answer from http:\/\/127\.0\.0\.1:\d+ within 1000 ms/);
    const notice = cloudFailureNotice(report);
    expect(notice?.severity).toBe("warning");
    expect(notice?.text).toMatch(new RegExp(`^warning: ${report.cloudRequests.failures} of ${report.cloudRequests.calls} cloud requests failed.*; first failure: .*; ${cloudAfter} inputs routed to the cloud were answered by the edge \\(degraded\\)$`));
  });

  it("with no cloud reachable at all, meanet run still answers every input, counts the degraded ones, says why once and exits 1", () => {
    const r = cli("run", dir, "--cloud", "http://127.0.0.1:9", "--limit", "200", "--json", "--timeout-ms", "500");
    expect(r.status, r.err).toBe(1);
    const report = JSON.parse(r.out.trim().split("\n").pop()!) as RunReport;
    expect(report.samples).toBe(200);
    expect(report.exits.cloud!.count).toBe(0);
    const degraded = expected.slice(0, 200).filter((x) => x.exit === "cloud").length;
    expect(report.degraded).toBe(degraded);
    expect(report.cloudRequests.failures).toBe(report.cloudRequests.calls);
    expect(report.cloudRequests.fastFailures).toBeGreaterThan(0);
    const lines = r.err.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error MN5008: no cloud request succeeded \\(${report.cloudRequests.calls} of ${report.cloudRequests.calls} failed, .* during the cool-down .*\\); first failure: cannot reach http://127\\.0\\.0\\.1:9: .*ECONNREFUSED.*; ${degraded} inputs routed to the cloud were answered by the edge \\(degraded\\)$`));
  });

  describe("a cloud whose replies cannot be used", () => {
    const COUNT = 200;
    const BATCH = 20;
    /** The edge's own answers (no cloud at all): what every input routed to the cloud must get. */
    let edgeOnly: Classification[];
    /** The number of inputs in the first cloud request, and how many requests the run makes. */
    let firstRequest: number;
    let requests: number;

    beforeAll(async () => {
      const c = await openRoutedClassifier(dir, undefined);
      edgeOnly = (await classifyAll(c)).answers;
      await c.close();
      const perBatch = Array.from({ length: COUNT / BATCH }, (_, b) => edgeOnly.slice(b * BATCH, (b + 1) * BATCH).filter((a) => a.degraded).length).filter((n) => n > 0);
      expect(perBatch.length).toBeGreaterThan(1);
      firstRequest = perBatch[0]!;
      requests = perBatch.length;
    });

    /** The first COUNT samples through `c` in batches of BATCH: every answer and the run's report. */
    async function classifyAll(c: RoutedClassifier, url: string | null = null): Promise<{ answers: Classification[]; report: RunReport }> {
      const answers: Classification[] = [];
      const recording: RoutedClassifier = {
        ...c,
        classify: async (input, n) => {
          const got = await c.classify(input, n);
          answers.push(...got);
          return got;
        },
      };
      const report = await runSamples(recording, { ...samples, count: COUNT }, BATCH, url);
      return { answers, report };
    }

    /** A KServe v2 server in form only on a loopback port: every infer request, once read, is answered by `answer` with its batch size. */
    async function fakeCloud(answer: (n: number, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
      const fake = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          // The edge sends its tensors in the binary extension: the JSON header comes first.
          const body = Buffer.concat(chunks);
          const header = Number(req.headers["inference-header-content-length"] ?? body.byteLength);
          answer((JSON.parse(body.subarray(0, header).toString()) as { inputs: { shape: number[] }[] }).inputs[0]!.shape[0]!, res);
        });
      });
      await new Promise<void>((done) => fake.listen(0, "127.0.0.1", done));
      return {
        url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`,
        close: () => {
          fake.closeAllConnections();
          return new Promise((done) => fake.close(() => done()));
        },
      };
    }

    /** Runs through `fake` and checks: the edge's answers, degraded; every request failed; the first failure's cause. */
    async function expectDegraded(cloud: { url: string; close(): Promise<void> }, timeoutMs: number, firstFailure: string): Promise<void> {
      try {
        const c = await openRoutedClassifier(dir, undefined, { cloud: cloud.url, timeoutMs, retries: 0 });
        const { answers, report } = await classifyAll(c, cloud.url);
        await c.close();
        const view = (a: Classification) => [a.classId, a.exit, a.target, a.degraded];
        expect(answers.map(view)).toEqual(edgeOnly.map(view));
        expect(report.exits.cloud?.count ?? 0).toBe(0);
        expect(report.degraded).toBe(edgeOnly.filter((a) => a.degraded).length);
        expect(report.cloudRequests.calls).toBe(requests);
        expect(report.cloudRequests.failures).toBe(requests);
        expect(report.cloudRequests.firstFailure).toBe(firstFailure);
        const notice = cloudFailureNotice(report);
        expect(notice?.severity).toBe("error");
        expect(notice?.text).toContain(`; first failure: ${firstFailure}; `);
      } finally {
        await cloud.close();
      }
    }

    /** Ten probabilities of 0.1 per input, changed by `change`. */
    const uniform = (n: number) => Array.from({ length: n * 10 }, () => 0.1);
    type Reply = { name: string; datatype: string; shape: number[]; data: unknown[] }[];
    const probs = (n: number, change: (data: unknown[]) => void = () => {}, shape = [n, 10]): Reply => {
      const data: unknown[] = uniform(n);
      change(data);
      return [{ name: "probs_cloud", datatype: "FP32", shape, data }];
    };
    const cases: [string, (n: number) => Reply, (n: number) => string][] = [
      ["9 probabilities per input", (n) => [{ name: "probs_cloud", datatype: "FP32", shape: [n, 9], data: Array.from({ length: n * 9 }, () => 1 / 9) }], (n) => `cloud output probs_cloud has shape [${n},9], not [${n},10]`],
      ["one value too few", (n) => probs(n, (d) => d.pop()), (n) => `cloud output probs_cloud has ${n * 10 - 1} values, not the ${n * 10} of shape [${n},10]`],
      ["a flat shape", (n) => probs(n, () => {}, [n * 10]), (n) => `cloud output probs_cloud has shape [${n * 10}], not [${n},10]`],
      ["null", (n) => probs(n, (d) => (d[0] = null)), () => "cloud output probs_cloud holds a non-number at index 0: null"],
      ["a number as a string", (n) => probs(n, (d) => (d[1] = "0.1")), () => 'cloud output probs_cloud holds a non-number at index 1: "0.1"'],
      ["NaN as a string", (n) => probs(n, (d) => (d[0] = "NaN")), () => 'cloud output probs_cloud holds a non-number at index 0: "NaN"'],
      ["no probs_cloud", () => [], () => "cloud reply lacks output probs_cloud"],
      ["a last row that sums to 0.42", (n) => probs(n, (d) => d.fill(0.042, (n - 1) * 10)), (n) => `cloud output probs_cloud row ${n - 1} sums to 0.42, not 1`],
      ["a negative probability in a row that sums to 1", (n) => probs(n, (d) => d.splice(0, 2, -0.1, 0.3)), () => "cloud output probs_cloud holds -0.1 at index 0, not a probability in [0, 1]"],
    ];
    for (const [what, reply, cause] of cases) {
      it(`a reply with ${what}: each request fails naming it, and the inputs get the edge's answer, degraded`, async () => {
        const cloud = await fakeCloud((n, res) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ model_name: "fashion_mnist", outputs: reply(n) }));
        });
        await expectDegraded(cloud, 5000, cause(firstRequest));
      });
    }

    it("a reply sent a byte every 200 ms: the attempt's deadline ends it, and the inputs get the edge's answer, degraded", async () => {
      const cloud = await fakeCloud((_n, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.flushHeaders();
        const drip = setInterval(() => res.write(" "), 200);
        res.on("close", () => clearInterval(drip));
      });
      await expectDegraded(cloud, 500, `no complete answer from ${cloud.url} within 500 ms`);
    }, 60_000);
  });

  it("a token-protected cloud: the right token works, a wrong one degrades", async () => {
    const tokenFile = join(tmp, "token");
    writeFileSync(tokenFile, "s3cret-token\n");
    const { url } = await serve("--token-file", tokenFile);
    const ok = cli("run", dir, "--cloud", url, "--token-file", tokenFile, "--limit", "100", "--json");
    expect(ok.status, ok.err).toBe(0);
    expect((JSON.parse(ok.out.trim().split("\n").pop()!) as RunReport).degraded).toBe(0);
    const wrongFile = join(tmp, "wrong");
    writeFileSync(wrongFile, "nope");
    const bad = cli("run", dir, "--cloud", url, "--token-file", wrongFile, "--limit", "100", "--json");
    expect(bad.status, bad.err).toBe(1);
    const report = JSON.parse(bad.out.trim().split("\n").pop()!) as RunReport;
    expect(report.degraded).toBe(expected.slice(0, 100).filter((x) => x.exit === "cloud").length);
    expect(bad.err).toMatch(/^error MN5008: no cloud request succeeded .*; first failure: cloud answered 401: invalid bearer token; /m);
  });

  it("without --cloud, meanet run serves the cloud model itself", () => {
    const r = cli("run", dir, "--limit", "300", "--batch", "30", "--json");
    expect(r.status, r.err).toBe(0);
    const report = JSON.parse(r.out.trim().split("\n").pop()!) as RunReport;
    expect(report.cloud).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(report.degraded).toBe(0);
    expect(report.exits.cloud!.count).toBe(expected.slice(0, 300).filter((x) => x.exit === "cloud").length);
  });

  it("an edge file changed since the export is refused by name, by meanet run and the library", async () => {
    const copy = join(tmp, "tampered", "fashion_mnist");
    cpSync(dir, copy, { recursive: true });
    const file = join(copy, "edge", "extension.onnx");
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    const message = /edge\/extension\.onnx does not match the sha256 in manifest\.json: it changed since the export/;
    const r = cli("run", copy, "--limit", "10");
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/^error MN5005: /m);
    expect(r.err).toMatch(message);
    await expect(openRoutedClassifier(copy, undefined)).rejects.toMatchObject({ code: "MN5005", message: expect.stringMatching(message) });
  });

  it("a token file that cannot be used is MN5001 naming the file and the problem, for run and serve alike", () => {
    const empty = join(tmp, "empty-token");
    writeFileSync(empty, " \n");
    const cases: [string, RegExp][] = [
      [join(tmp, "missing-token"), /^error MN5001: token file \S*missing-token does not exist$/m],
      [tmp, /^error MN5001: token file \S+ is a directory, not a file$/m],
      [empty, /^error MN5001: token file \S*empty-token is empty/m],
    ];
    for (const [file, message] of cases) {
      const run = cli("run", dir, "--token-file", file, "--limit", "1");
      const served = cli("serve", dir, "--port", "0", "--token-file", file);
      for (const r of [run, served]) {
        expect(r.status, r.err).toBe(1);
        expect(r.err).toMatch(message);
        expect(r.err).not.toMatch(/usage:|\n\s+at /);
      }
      expect(run.err).toBe(served.err);
    }
  });

  it("bad flags are usage errors", () => {
    expect(cli("run", dir, "--cloud", "not a url").status).toBe(2);
    expect(cli("run", dir, "--batch", "0").status).toBe(2);
    const r = cli("run", join(tmp, "nothing"));
    expect(r.status).toBe(1);
    expect(r.err).toContain("MN5005");
  });
});
